package cebus_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeSnippets are the README's ```go blocks, in order.
func readmeSnippets(t *testing.T) []string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, block := range regexp.MustCompile("(?s)```go\n(.*?)```").FindAllSubmatch(readme, -1) {
		out = append(out, string(block[1]))
	}
	if len(out) != 2 {
		t.Fatalf("README.md has %d ```go blocks, want 2 (publish and consume; an error's field)", len(out))
	}
	return out
}

// runSnippet runs snippet as the body of main against url, importing the packages it names, and returns what it
// printed.
func runSnippet(t *testing.T, snippet, url string) string {
	t.Helper()
	imports := []string{`"context"`}
	if strings.Contains(snippet, "errors.") {
		imports = append(imports, `"errors"`)
	}
	imports = append(imports, `"fmt"`, "", `cebus "github.com/cebus/cebus/sdks/go"`)
	program := "package main\n\nimport (\n\t" + strings.Join(imports, "\n\t") + "\n)\n\nfunc main() {\n" +
		strings.ReplaceAll(snippet, "http://127.0.0.1:8080", url) + "}\n"
	dir, err := os.MkdirTemp(".", "_readme-snippet-") // inside the module, so it builds against this SDK
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(program), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "run", "./"+dir).CombinedOutput()
	if err != nil {
		t.Fatalf("go run: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestTheREADMESnippetsRunAsWritten runs the README's snippets, exactly, as programs against a real broker.
func TestTheREADMESnippetsRunAsWritten(t *testing.T) {
	snippets := readmeSnippets(t)
	if lines := strings.Count(strings.TrimSpace(snippets[0]), "\n") + 1; lines >= 10 {
		t.Fatalf("the publish and consume snippet has %d lines; keep it under ten", lines)
	}
	b := startBroker(t, "memory")
	if out := runSnippet(t, snippets[0], b.URL); out != `{"id":42}` {
		t.Fatalf("the publish and consume snippet printed %q", out)
	}
	if out := runSnippet(t, snippets[1], b.URL); out != "invalid_argument topic.name" {
		t.Fatalf("the error snippet printed %q", out)
	}
}
