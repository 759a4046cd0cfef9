package waf

// mongoOps are the MongoDB query operators an injection uses, without the
// '$'.
const mongoOps = `(?:ne|eq|gt|gte|lt|lte|in|nin|not|nor|or|and|regex|where|exists|expr|elemmatch|type|size|all|mod|text|function|accumulator|jsonschema|lookup)`

var nosqlRules = []*rule{
	{
		Rule: Rule{ID: 5001, Family: FamilyNoSQL, Severity: Critical, Description: "query operator in a parameter name: password[$ne]=, user[$regex]="},
		locs: locNames,
		need: cDollar | cBracket,
		re:   re(`\[\s*\$` + mongoOps + `\s*\]`),
	},
	{
		Rule: Rule{ID: 5002, Family: FamilyNoSQL, Severity: Critical, Description: "query operator as a JSON key: {\"$ne\": null}, {\"$where\": ...}"},
		locs: locJSONKey,
		need: cDollar,
		// The parser leaves out "$type" with a string value: JSON.NET's
		// type tag.
		re: re(`^\s*\$` + mongoOps + `\s*$`),
	},
	{
		Rule: Rule{ID: 5003, Family: FamilyNoSQL, Severity: Critical, Description: "query operator object or bracket in a value: {\"$gt\": \"\"}, [$ne]"},
		locs: locArgs | locHeader,
		need: cDollar,
		re:   re(`(?:\{\s*['"]?|['"])\$` + mongoOps + `['"]?\s*:|\[\s*\$` + mongoOps + `\s*\]`),
	},
	{
		Rule: Rule{ID: 5004, Family: FamilyNoSQL, Severity: Critical, Description: "server-side JavaScript injection into $where: ' && this.password.match(, ';return true;, db.users.find("},
		kw:   kwServerJS,
		locs: locArgs | locNames | locHeader,
		any:  cQuote | cDquote | cDot | cSemi,
		re: re(`['"]\s*(?:&&|\|\||;)\s*(?:this\.|return\b|sleep\s*\(|while\s*\(|db\.|['"]?\w*['"]?\s*[=!]==?)|\bthis\.\w+(?:\.\w+)*\s*(?:[=!]=|>|<|\.match\s*\()|` +
			`;\s*return\s+(?:true|false|1|this|db)\b|\bdb\.\w+\.(?:find|insert|remove|drop|update|delete)\w*\s*\(|\bdb\.(?:getcollectionnames|dropdatabase|eval|getsiblingdb)\s*\(|` +
			`\bthis\.constructor\.constructor\b`),
	},
}
