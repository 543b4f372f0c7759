package cebus_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// broker is a real `cebus serve` process (the repository's build: packages/cli/dist/bin.js, run by `node`).
type broker struct {
	URL  string
	port string
	dir  string
	args []string
	cmd  *exec.Cmd
}

// startBroker runs `cebus serve` on a free port over store ("memory" or "sqlite:<temp dir>" when store is ""), with
// any further serve flags in args.
func startBroker(t *testing.T, store string, args ...string) *broker {
	t.Helper()
	b := &broker{port: "0", args: args}
	if store == "" {
		b.dir = t.TempDir()
		store = "sqlite:" + b.dir
	}
	b.start(t, store)
	t.Cleanup(b.stop)
	return b
}

func (b *broker) start(t *testing.T, store string) {
	t.Helper()
	bin, err := filepath.Abs("../../packages/cli/dist/bin.js")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing: build the repository first (pnpm build)", bin)
	}
	args := append([]string{bin, "serve", "--port", b.port, "--store", store, "--log-level", "info"}, b.args...)
	b.cmd = exec.Command("node", args...)
	b.cmd.Stderr = os.Stderr
	out, err := b.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("starting the broker: %v", err)
	}
	lines := bufio.NewScanner(out)
	ready := make(chan string, 1)
	go func() {
		for lines.Scan() {
			var line struct{ Msg, URL string }
			if json.Unmarshal(lines.Bytes(), &line) == nil && line.Msg == "cebus listening" {
				ready <- line.URL
			}
		}
	}()
	select {
	case url := <-ready:
		b.URL = url
		b.port = url[strings.LastIndex(url, ":")+1:]
	case <-time.After(20 * time.Second):
		t.Fatal("the broker did not report \"cebus listening\" within 20 s")
	}
}

func (b *broker) stop() {
	if b.cmd != nil && b.cmd.Process != nil {
		_ = b.cmd.Process.Kill()
		_ = b.cmd.Wait()
		b.cmd = nil
	}
}

// restart kills the broker and starts it again on the same port and store directory.
func (b *broker) restart(t *testing.T) {
	t.Helper()
	b.stop()
	b.start(t, "sqlite:"+b.dir)
}

var names int

func unique(prefix string) string {
	names++
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), names)
}
