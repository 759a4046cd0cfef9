package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Layout of the chart, in pixels.
const (
	svgPanelW  = 330 // plot area of one panel
	svgLabelW  = 104 // scenario labels left of the first column
	svgGapX    = 28  // between panel columns
	svgBand    = 62  // height of one scenario's row in a panel
	svgTitleH  = 24  // panel title
	svgAxisH   = 34  // x axis under each panel
	svgGapY    = 18  // between panel rows
	svgLegendH = 62  // legend above the panels
	svgMargin  = 16
)

// markerStyle is how one policy is drawn.
type markerStyle struct {
	color string
	shape string // "circle", "square", "diamond", "triangle"
	size  float64
}

// styles are the markers of the known policies: the default big and
// black, peak_ewma a red triangle, the reference bandits circles, the
// classic balancers squares, the oracles hollow diamonds.
var styles = map[string]markerStyle{
	polDefault:               {"#000000", "circle", 6},
	polPeakEWMA:              {"#d62728", "triangle", 6},
	"epsilon_greedy":         {"#9467bd", "circle", 4.5},
	"ucb1":                   {"#8c564b", "circle", 4.5},
	"softmax":                {"#e377c2", "circle", 4.5},
	"thompson_sampling":      {"#7f7f7f", "circle", 4.5},
	"p2c":                    {"#bcbd22", "square", 4.5},
	"least_conn":             {"#17becf", "square", 4.5},
	"round_robin":            {"#ff7f0e", "square", 4.5},
	"jsq_oracle":             {"#1f77b4", "diamond", 5},
	"earliest_finish_oracle": {"#2ca02c", "diamond", 5},
}

// styleOf returns the marker of a policy; unknown ones get a grey plus.
func styleOf(name string) markerStyle {
	if st, ok := styles[name]; ok {
		return st
	}
	return markerStyle{"#555555", "circle", 3}
}

// svgChart draws the p99 of every policy in every cell: one panel per K
// (rows) and load (columns), one row per scenario, a log-scale x axis in
// milliseconds shared by all panels.
func (r *report) svgChart() string {
	ks, loads := r.Grid.K, r.Grid.Loads
	var scen []string
	for _, s := range r.Grid.Scenarios {
		scen = append(scen, s.Name)
	}
	pols := r.Grid.Policies
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, c := range r.Cells {
		for _, p := range c.Policies {
			if p.P99 > 0 {
				lo, hi = math.Min(lo, p.P99), math.Max(hi, p.P99)
			}
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 1, 1000
	}
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Pow(10, math.Ceil(math.Log10(hi)))
	xOf := func(v float64) float64 {
		return svgPanelW * (math.Log10(v) - math.Log10(lo)) / (math.Log10(hi) - math.Log10(lo))
	}
	panelH := float64(svgTitleH + len(scen)*svgBand + svgAxisH)
	width := svgMargin*2 + svgLabelW + len(loads)*svgPanelW + (len(loads)-1)*svgGapX
	height := svgMargin*2 + svgLegendH + len(ks)*int(panelH) + (len(ks)-1)*svgGapY + 20

	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n", width, height, width, height)
	p(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	p(`<text x="%d" y="%d" font-size="15" font-weight="bold">p99 latency by scenario and policy (ms, log scale; median over %d seeds; lower is better)</text>`+"\n", svgMargin, svgMargin+12, r.Grid.Seeds)

	// Legend.
	perRow := (len(pols) + 1) / 2
	colW := float64(width-2*svgMargin) / float64(perRow)
	for i, name := range pols {
		x := float64(svgMargin) + float64(i%perRow)*colW + 8
		y := float64(svgMargin+32) + float64(i/perRow)*20
		marker(&b, styleOf(name), x, y, "")
		p(`<text x="%.1f" y="%.1f">%s</text>`+"\n", x+10, y+4, html.EscapeString(name))
	}

	top := float64(svgMargin + svgLegendH)
	for ki, k := range ks {
		for li, load := range loads {
			x0 := float64(svgMargin + svgLabelW + li*(svgPanelW+svgGapX))
			y0 := top + float64(ki)*(panelH+svgGapY)
			p(`<text x="%.1f" y="%.1f" font-weight="bold" text-anchor="middle">K = %d, load %.1f</text>`+"\n", x0+svgPanelW/2, y0+16, k, load)
			py := y0 + svgTitleH
			ph := float64(len(scen) * svgBand)
			p(`<rect x="%.1f" y="%.1f" width="%d" height="%.1f" fill="#fafafa" stroke="#999999"/>`+"\n", x0, py, svgPanelW, ph)
			// Grid lines and ticks at 1, 2, 5 per decade.
			for d := lo; d <= hi*1.0001; d *= 10 {
				for _, m := range []float64{1, 2, 5} {
					v := d * m
					if v > hi*1.0001 {
						break
					}
					x := x0 + xOf(v)
					stroke, w := "#e0e0e0", 1.0
					if m == 1 {
						stroke = "#c0c0c0"
					}
					p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%.1f"/>`+"\n", x, py, x, py+ph, stroke, w)
					p(`<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%s</text>`+"\n", x, py+ph+13, tickLabel(v))
				}
			}
			p(`<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10" fill="#555555">p99 (ms)</text>`+"\n", x0+svgPanelW/2, py+ph+27)
			for si, sc := range scen {
				by := py + float64(si*svgBand)
				if si > 0 {
					p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999999" stroke-dasharray="2,2"/>`+"\n", x0, by, x0+svgPanelW, by)
				}
				if li == 0 {
					p(`<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", x0-6, by+svgBand/2+4, html.EscapeString(sc))
				}
				c := r.cell(sc, k, load)
				if c == nil {
					continue
				}
				for pi, name := range pols {
					s := c.policy(name)
					if s == nil || !(s.P99 > 0) {
						continue
					}
					// Dodge the policies vertically within the band.
					y := by + 6 + float64(pi)*float64(svgBand-12)/float64(max(len(pols)-1, 1))
					title := fmt.Sprintf("%s, K=%d, load %.1f, %s: p99 %s ms", sc, k, load, name, fmtMS(s.P99))
					marker(&b, styleOf(name), x0+xOf(s.P99), y, title)
				}
			}
		}
	}
	p("</svg>\n")
	return b.String()
}

// marker draws one marker centred on (x, y), with a tooltip if title is
// not empty.
func marker(b *strings.Builder, st markerStyle, x, y float64, title string) {
	t := ""
	if title != "" {
		t = "<title>" + html.EscapeString(title) + "</title>"
	}
	s := st.size
	fill := st.color
	stroke := st.color
	if st.shape == "diamond" {
		fill = "none"
	}
	switch st.shape {
	case "square":
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" stroke="%s">%s</rect>`+"\n", x-s*0.8, y-s*0.8, 1.6*s, 1.6*s, fill, stroke, t)
	case "diamond":
		fmt.Fprintf(b, `<polygon points="%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f" fill="%s" stroke="%s" stroke-width="1.5">%s</polygon>`+"\n",
			x, y-s, x+s, y, x, y+s, x-s, y, fill, stroke, t)
	case "triangle":
		fmt.Fprintf(b, `<polygon points="%.1f,%.1f %.1f,%.1f %.1f,%.1f" fill="%s" stroke="%s">%s</polygon>`+"\n",
			x, y-s, x+s, y+s*0.8, x-s, y+s*0.8, fill, stroke, t)
	default:
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="%.1f" fill="%s" stroke="%s" fill-opacity="0.85">%s</circle>`+"\n", x, y, s*0.8, fill, stroke, t)
	}
}

// tickLabel formats an axis value in milliseconds.
func tickLabel(v float64) string {
	if v >= 1 {
		return fmt.Sprintf("%g", math.Round(v))
	}
	return fmt.Sprintf("%g", v)
}

// cell returns the summary of a cell, or nil.
func (r *report) cell(scenario string, k int, load float64) *cellSummary {
	for i := range r.Cells {
		c := &r.Cells[i]
		if c.Scenario == scenario && c.K == k && c.Load == load {
			return c
		}
	}
	return nil
}
