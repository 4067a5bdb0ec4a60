package consensus

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The core is a pure state machine: its non-test files (and those of its
// subpackages) do no I/O, draw no random numbers, take no locks, start no
// goroutines and never read the clock. This test enforces that by parsing
// the sources.

// impureImports are forbidden together with all their subpackages
// (net/http, os/exec, math/rand/v2, sync/atomic, ...).
var impureImports = []string{"net", "os", "math/rand", "crypto/rand", "sync"}

// clockFuncs are the functions of package time that read or wait on the
// wall clock. Since and Until read it implicitly.
var clockFuncs = map[string]bool{
	"Now": true, "Sleep": true, "After": true, "NewTimer": true, "NewTicker": true,
	"Tick": true, "AfterFunc": true, "Since": true, "Until": true,
}

// impurities lists the rule violations in one parsed file.
func impurities(fset *token.FileSet, f *ast.File) []string {
	var out []string
	report := func(p token.Pos, format string, args ...any) {
		out = append(out, fmt.Sprintf("%s: %s", fset.Position(p), fmt.Sprintf(format, args...)))
	}
	timeNames := map[string]bool{}
	for _, imp := range f.Imports {
		path, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			report(imp.Pos(), "unreadable import %s", imp.Path.Value)
			continue
		}
		for _, bad := range impureImports {
			if path == bad || strings.HasPrefix(path, bad+"/") {
				report(imp.Pos(), "imports %q", path)
			}
		}
		if path != "time" {
			continue
		}
		switch name := imp.Name; {
		case name == nil:
			timeNames["time"] = true
		case name.Name == ".":
			report(imp.Pos(), "dot-imports %q, which hides clock reads", path)
		case name.Name != "_":
			timeNames[name.Name] = true
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			report(n.Pos(), "go statement")
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok && timeNames[id.Name] && clockFuncs[n.Sel.Name] {
				report(n.Pos(), "uses %s.%s", id.Name, n.Sel.Name)
			}
		}
		return true
	})
	return out
}

func TestCoreIsPure(t *testing.T) {
	fset := token.NewFileSet()
	checked := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		checked[filepath.ToSlash(path)] = true
		for _, v := range impurities(fset, f) {
			t.Error(v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Guard against checking nothing (a wrong directory, say).
	for _, want := range []string{"core.go", "certs.go", "rules.go", "quorum/quorum.go"} {
		if !checked[want] {
			t.Errorf("%s was not checked (checked: %v)", want, checked)
		}
	}
}

// The checker has teeth: each rule catches an in-memory violation, and
// clean code that merely uses time's types passes.
func TestPurityCheckerCatchesViolations(t *testing.T) {
	tests := []struct {
		name, src, want string // want "" means no violation
	}{
		{"net", `import "net"`, `imports "net"`},
		{"net/http", `import "net/http"`, `imports "net/http"`},
		{"os", `import "os"`, `imports "os"`},
		{"os/exec", `import "os/exec"`, `imports "os/exec"`},
		{"math/rand", `import "math/rand"`, `imports "math/rand"`},
		{"math/rand/v2", `import "math/rand/v2"`, `imports "math/rand/v2"`},
		{"crypto/rand", `import cr "crypto/rand"`, `imports "crypto/rand"`},
		{"sync", `import "sync"`, `imports "sync"`},
		{"sync/atomic", `import "sync/atomic"`, `imports "sync/atomic"`},
		{"time.Now", `import "time"; func f() { _ = time.Now() }`, "uses time.Now"},
		{"time.Sleep", `import "time"; func f() { time.Sleep(1) }`, "uses time.Sleep"},
		{"time.After", `import "time"; func f() { <-time.After(1) }`, "uses time.After"},
		{"time.NewTimer", `import "time"; func f() { time.NewTimer(1) }`, "uses time.NewTimer"},
		{"time.NewTicker", `import "time"; func f() { time.NewTicker(1) }`, "uses time.NewTicker"},
		{"time.Tick", `import "time"; func f() { time.Tick(1) }`, "uses time.Tick"},
		{"time.AfterFunc", `import "time"; func f() { time.AfterFunc(1, f) }`, "uses time.AfterFunc"},
		{"time.Since", `import "time"; func f(t time.Time) { _ = time.Since(t) }`, "uses time.Since"},
		{"renamed time", `import clock "time"; func f() { _ = clock.Now() }`, "uses clock.Now"},
		{"clock as a value", `import "time"; var now = time.Now`, "uses time.Now"},
		{"dot-imported time", `import . "time"; var d Duration`, "dot-imports"},
		{"go statement", `func f() { go f() }`, "go statement"},
		{"go statement in a closure", `var f = func() { go func() {}() }`, "go statement"},
		{"clean", `import ("time"; "errors"; "github.com/x/network"; "github.com/x/osutil")
			var d time.Duration = time.Second
			func f(t time.Time) int64 { _ = errors.New; return t.Add(d).Unix() }
			func g(now func() time.Time) time.Time { return now() }`, ""},
		{"blank time import", `import _ "time"`, ""},
	}
	for _, tt := range tests {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, tt.name+".go", "package p\n"+tt.src+"\n", 0)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got := impurities(fset, f)
		switch {
		case tt.want == "" && len(got) != 0:
			t.Errorf("%s: false positives %v", tt.name, got)
		case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
			t.Errorf("%s: got %v, want one violation containing %q", tt.name, got, tt.want)
		}
	}
}
