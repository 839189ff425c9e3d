// template-gocheck runs the cases of tests/unit/template-cases.json through
// Go's own text/template, with Docker's template functions and Docker's
// table formatting, and compares Go's output with the expectations that
// test_template checks strata against.  It keeps strata honest: every
// expectation not marked "go": false is what Go and Docker print.
//
//	go run ./tests/unit/template-gocheck tests/unit/template-cases.json
//	go run ./tests/unit/template-gocheck -fill tests/unit/template-cases.json
//
// -fill writes Go's result into cases that have neither "out" nor "err".
//
// How JSON is decoded, to match strata's model of Docker's values: integers
// become int64, other numbers float64, and arrays made only of strings
// []string (Docker's Cmd, Env, RepoTags... are []string fields, which is
// why {{join .Config.Cmd " "}} works in Docker).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"text/tabwriter"
	"text/template"
)

type tableSpec struct {
	Headers map[string]string `json:"headers"`
	Rows    []json.RawMessage `json:"rows"`
}

type testCase struct {
	Name   string          `json:"name"`
	Tpl    string          `json:"tpl"`
	Data   json.RawMessage `json:"data,omitempty"`
	Out    *string         `json:"out,omitempty"`
	Err    *string         `json:"err,omitempty"`
	Go     *bool           `json:"go,omitempty"`
	Strict bool            `json:"strict,omitempty"`
	Table  *tableSpec      `json:"table,omitempty"`
	Note   string          `json:"note,omitempty"`
}

type caseFile struct {
	Fixture json.RawMessage `json:"fixture"`
	Cases   []*testCase     `json:"cases"`
}

// Docker's basicFunctions (docker/cli templates/templates.go).
var basicFunctions = template.FuncMap{
	"json": func(v interface{}) string {
		buf := &bytes.Buffer{}
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			panic(err)
		}
		return strings.TrimSpace(buf.String())
	},
	"split":    strings.Split,
	"join":     strings.Join,
	"title":    strings.Title, //nolint:staticcheck
	"lower":    strings.ToLower,
	"upper":    strings.ToUpper,
	"pad":      padWithSpace,
	"truncate": truncateWithLength,
}

// Docker's HeaderFunctions.
var headerFunctions = template.FuncMap{
	"json":     func(v string) string { return v },
	"split":    func(v string, _ string) string { return v },
	"join":     func(v string, _ string) string { return v },
	"title":    func(v string) string { return v },
	"lower":    func(v string) string { return v },
	"upper":    func(v string) string { return v },
	"truncate": func(v string, _ int) string { return v },
}

func padWithSpace(source string, prefix, suffix int) string {
	if source == "" {
		return source
	}
	return strings.Repeat(" ", prefix) + source + strings.Repeat(" ", suffix)
}

func truncateWithLength(source string, length int) string {
	if len(source) < length {
		return source
	}
	return source[:length]
}

func convert(v interface{}) interface{} {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil && !strings.ContainsAny(string(x), ".eE") {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]interface{}:
		for k, e := range x {
			x[k] = convert(e)
		}
		return x
	case []interface{}:
		allStrings := len(x) > 0
		for i, e := range x {
			x[i] = convert(e)
			if _, ok := x[i].(string); !ok {
				allStrings = false
			}
		}
		if allStrings {
			s := make([]string, len(x))
			for i, e := range x {
				s[i] = e.(string)
			}
			return s
		}
		return x
	}
	return v
}

func decode(raw json.RawMessage) interface{} {
	if len(raw) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v interface{}
	if err := d.Decode(&v); err != nil {
		panic(err)
	}
	return convert(v)
}

func run(c *testCase, fixture json.RawMessage) (string, error) {
	if c.Table != nil {
		tmpl, err := template.New("").Funcs(basicFunctions).Parse(c.Tpl)
		if err != nil {
			return "", err
		}
		body := &bytes.Buffer{}
		for _, r := range c.Table.Rows {
			if err := tmpl.Execute(body, decode(r)); err != nil {
				return "", err
			}
			body.WriteString("\n")
		}
		out := &bytes.Buffer{}
		t := tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)
		hdr := &bytes.Buffer{}
		tmpl.Funcs(headerFunctions).Execute(hdr, c.Table.Headers)
		hdr.WriteTo(t)
		t.Write([]byte("\n"))
		body.WriteTo(t)
		t.Flush()
		return out.String(), nil
	}
	tmpl, err := template.New("").Funcs(basicFunctions).Parse(c.Tpl)
	if err != nil {
		return "", err
	}
	data := c.Data
	if len(data) == 0 {
		data = fixture
	}
	out := &bytes.Buffer{}
	if err := tmpl.Execute(out, decode(data)); err != nil {
		return "", err
	}
	return out.String(), nil
}

// Go's parse errors give the line only; strata adds the column.
var parseCol = regexp.MustCompile(`^template: :(\d+):\d+: `)

func normalize(e string) string {
	if strings.Contains(e, ": executing ") {
		return e
	}
	return parseCol.ReplaceAllString(e, "template: :$1: ")
}

func main() {
	fill := flag.Bool("fill", false, "write Go's results into cases without expectations")
	flag.Parse()
	path := flag.Arg(0)
	raw, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	var f caseFile
	if err := json.Unmarshal(raw, &f); err != nil {
		panic(err)
	}
	bad, checked, skipped, filled := 0, 0, 0, 0
	for _, c := range f.Cases {
		if c.Go != nil && !*c.Go {
			skipped++
			continue
		}
		out, err := run(c, f.Fixture)
		if c.Out == nil && c.Err == nil {
			if *fill {
				if err != nil {
					s := err.Error()
					c.Err = &s
				} else {
					c.Out = &out
				}
				filled++
			} else {
				fmt.Printf("%s: no expectation (go says out=%q err=%v)\n", c.Name, out, err)
				bad++
			}
			continue
		}
		checked++
		switch {
		case c.Err != nil && err == nil:
			fmt.Printf("FAIL %s: want error %q, go printed %q\n", c.Name, *c.Err, out)
			bad++
		case c.Err != nil && normalize(*c.Err) != err.Error():
			fmt.Printf("FAIL %s: want error\n  %q\ngo says\n  %q\n", c.Name, normalize(*c.Err), err.Error())
			bad++
		case c.Err == nil && err != nil:
			fmt.Printf("FAIL %s: want %q, go failed: %v\n", c.Name, *c.Out, err)
			bad++
		case c.Out != nil && *c.Out != out:
			fmt.Printf("FAIL %s: want %q, go printed %q\n", c.Name, *c.Out, out)
			bad++
		}
	}
	if *fill {
		buf := &bytes.Buffer{}
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(f); err != nil {
			panic(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			panic(err)
		}
		fmt.Printf("filled %d cases\n", filled)
	}
	fmt.Printf("%d passed, %d failed, %d skipped\n", checked-bad, bad, skipped)
	if bad > 0 {
		os.Exit(1)
	}
}
