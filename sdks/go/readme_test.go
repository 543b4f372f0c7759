package cebus_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestTheREADMESnippetPublishesAndConsumes runs the README's snippet, exactly, as a program against a real broker.
func TestTheREADMESnippetPublishesAndConsumes(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)```go\n(.*?)```").FindSubmatch(readme)
	if block == nil {
		t.Fatal("README.md has no ```go block")
	}
	snippet := string(block[1])
	if lines := strings.Count(strings.TrimSpace(snippet), "\n") + 1; lines >= 10 {
		t.Fatalf("the snippet has %d lines; keep it under ten", lines)
	}
	b := startBroker(t, "memory")
	program := "package main\n\nimport (\n\t\"context\"\n\t\"fmt\"\n\n\tcebus \"github.com/cebus/cebus/sdks/go\"\n)\n\nfunc main() {\n" +
		strings.ReplaceAll(snippet, "http://127.0.0.1:8080", b.URL) + "}\n"
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
	if strings.TrimSpace(string(out)) != `{"id":42}` {
		t.Fatalf("the snippet printed %q", out)
	}
}
