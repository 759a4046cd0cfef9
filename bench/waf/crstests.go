package main

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	crstests "github.com/corazawaf/coraza-coreruleset/v4/tests"
	"gopkg.in/yaml.v3"
)

// The CRS regression tests (go-ftw YAML, shipped in coraza-coreruleset's
// tests package) are the held-out suite: attacks written by the CRS
// authors, not by whoever wrote phalanx's rules and corpus. Each positive
// test (output.log.expect_ids names its rule) of a rule at paranoia
// level 1, in the families phalanx covers, becomes one attack request.
// CRS passes its own tests by construction; the figure that matters is
// phalanx's.

type ftwFile struct {
	RuleID int `yaml:"rule_id"`
	Tests  []struct {
		TestID int `yaml:"test_id"`
		Stages []struct {
			Input struct {
				Method         string            `yaml:"method"`
				URI            string            `yaml:"uri"`
				Headers        map[string]string `yaml:"headers"`
				Data           string            `yaml:"data"`
				EncodedRequest string            `yaml:"encoded_request"`
			} `yaml:"input"`
			Output struct {
				Log struct {
					ExpectIDs []int `yaml:"expect_ids"`
				} `yaml:"log"`
			} `yaml:"output"`
		} `yaml:"stages"`
	} `yaml:"tests"`
}

// crsFamilies maps a CRS rule file's number to a corpus family.
var crsFamilies = map[int]string{913: "bot", 930: "traversal", 931: "rfi", 932: "cmdi", 941: "xss", 942: "sqli"}

// ruleParanoia reads the paranoia level of every CRS rule from its
// paranoia-level tag.
func ruleParanoia() (map[int]int, error) {
	pl := map[int]int{}
	idRE := regexp.MustCompile(`"id:(\d+)`)
	plRE := regexp.MustCompile(`paranoia-level/(\d)`)
	files, err := fs.Glob(coreruleset.FS, "@owasp_crs/*.conf")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		b, err := fs.ReadFile(coreruleset.FS, f)
		if err != nil {
			return nil, err
		}
		for _, chunk := range strings.Split(string(b), "\nSecRule ") {
			id := idRE.FindStringSubmatch(chunk)
			p := plRE.FindStringSubmatch(chunk)
			if id != nil && p != nil {
				n, _ := strconv.Atoi(id[1])
				l, _ := strconv.Atoi(p[1])
				pl[n] = l
			}
		}
	}
	return pl, nil
}

// crsSuite returns the positive tests of the paranoia level 1 rules of
// the families phalanx covers, as corpus entries.
func crsSuite() ([]entry, error) {
	pl, err := ruleParanoia()
	if err != nil {
		return nil, err
	}
	var out []entry
	err = fs.WalkDir(crstests.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".yaml" {
			return err
		}
		b, err := fs.ReadFile(crstests.FS, p)
		if err != nil {
			return err
		}
		var f ftwFile
		if err := yaml.Unmarshal(b, &f); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		fam := crsFamilies[f.RuleID/1000]
		if fam == "" || pl[f.RuleID] != 1 {
			return nil
		}
		for _, t := range f.Tests {
			for si, st := range t.Stages {
				in := st.Input
				if in.EncodedRequest != "" || !contains(st.Output.Log.ExpectIDs, f.RuleID) {
					continue
				}
				e := entry{ID: fmt.Sprintf("%d-%d.%d", f.RuleID, t.TestID, si), Family: fam, Kind: fmt.Sprint(f.RuleID), Placement: "crs-test",
					Method: in.Method, Headers: map[string]string{}, Body: in.Data}
				if e.Method == "" {
					e.Method = "GET"
				}
				uri := in.URI
				if uri == "" {
					uri = "/"
				}
				e.Path, e.Query, _ = strings.Cut(uri, "?")
				for k, v := range in.Headers {
					switch strings.ToLower(k) {
					case "host", "content-length":
					case "content-type":
						e.ContentType = v
					default:
						e.Headers[k] = v
					}
				}
				if e.Body != "" && e.ContentType == "" {
					e.ContentType = "application/x-www-form-urlencoded"
				}
				out = append(out, e)
			}
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, err
}

func contains(ids []int, id int) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
