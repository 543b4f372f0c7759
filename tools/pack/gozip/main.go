// Command gozip writes one version of a Go module into a GOPROXY-layout directory, the layout the go command reads
// from GOPROXY=file:///DIR: DIR/<escaped module path>/@v/{list, <version>.info, <version>.mod, <version>.zip}.
// The zip is made by golang.org/x/mod/zip, the code the go command itself uses, so it passes the go command's checks.
//
//	go run . -module github.com/cebus/cebus/sdks/go -version v0.1.0 -dir ../../../sdks/go -proxy /tmp/goproxy
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"
)

func main() {
	path := flag.String("module", "", "the module path, as in the module's go.mod")
	version := flag.String("version", "", "the version to write, a semantic version such as v0.1.0")
	dir := flag.String("dir", "", "the module's root directory (the one holding go.mod)")
	proxy := flag.String("proxy", "", "the GOPROXY directory to write into")
	stamp := flag.String("time", "", "the version's time, RFC 3339 (default: now)")
	flag.Parse()
	if *path == "" || *version == "" || *dir == "" || *proxy == "" {
		fail("usage: gozip -module PATH -version vX.Y.Z -dir MODULE_DIR -proxy OUT_DIR [-time RFC3339]")
	}
	when := time.Now().UTC()
	if *stamp != "" {
		parsed, err := time.Parse(time.RFC3339, *stamp)
		if err != nil {
			fail(fmt.Sprintf("-time %q is not an RFC 3339 time; give one like 2026-01-02T15:04:05Z", *stamp))
		}
		when = parsed.UTC()
	}
	mod := module.Version{Path: *path, Version: *version}
	if err := module.Check(mod.Path, mod.Version); err != nil {
		fail(fmt.Sprintf("%s@%s is not a valid module version: %v", mod.Path, mod.Version, err))
	}
	goMod := readGoMod(*dir, mod.Path)
	versions := versionDir(*proxy, mod)
	writeFile(filepath.Join(versions, mod.Version+".mod"), goMod)
	writeInfo(filepath.Join(versions, mod.Version+".info"), mod.Version, when)
	writeZip(filepath.Join(versions, mod.Version+".zip"), *dir, mod)
	writeList(filepath.Join(versions, "list"), mod.Version)
}

// readGoMod reads the module's go.mod and checks that it declares the module path being written.
func readGoMod(dir, path string) []byte {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		fail(fmt.Sprintf("cannot read the module's go.mod: %v; -dir must be the directory holding go.mod", err))
	}
	if declared := modfile.ModulePath(data); declared != path {
		fail(fmt.Sprintf("%s/go.mod declares module %q, not %q; pass the path go.mod declares", dir, declared, path))
	}
	return data
}

// versionDir makes DIR/<escaped path>/@v: upper-case letters in paths and versions are escaped as !x.
func versionDir(proxy string, mod module.Version) string {
	escaped, err := module.EscapePath(mod.Path)
	if err != nil {
		fail(fmt.Sprintf("cannot escape module path %q: %v", mod.Path, err))
	}
	if _, err := module.EscapeVersion(mod.Version); err != nil {
		fail(fmt.Sprintf("cannot escape version %q: %v", mod.Version, err))
	}
	versions := filepath.Join(proxy, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(versions, 0o755); err != nil {
		fail(fmt.Sprintf("cannot create %s: %v", versions, err))
	}
	return versions
}

func writeInfo(file, version string, when time.Time) {
	info, err := json.Marshal(struct {
		Version string
		Time    string
	}{version, when.Format(time.RFC3339)})
	if err != nil {
		fail(err.Error())
	}
	writeFile(file, append(info, '\n'))
}

func writeZip(file, dir string, mod module.Version) {
	out, err := os.Create(file)
	if err != nil {
		fail(fmt.Sprintf("cannot create %s: %v", file, err))
	}
	if err := modzip.CreateFromDir(out, mod, dir); err != nil {
		out.Close()
		fail(fmt.Sprintf("cannot zip %s as %s@%s: %v", dir, mod.Path, mod.Version, err))
	}
	if err := out.Close(); err != nil {
		fail(fmt.Sprintf("cannot write %s: %v", file, err))
	}
}

// writeList adds the version to the list of known versions (one a line, in semver order), keeping earlier ones.
func writeList(file, version string) {
	var versions []string
	if data, err := os.ReadFile(file); err == nil {
		versions = strings.Fields(string(data))
	}
	if !slices.Contains(versions, version) {
		versions = append(versions, version)
	}
	slices.SortFunc(versions, semver.Compare)
	writeFile(file, []byte(strings.Join(versions, "\n")+"\n"))
}

func writeFile(file string, data []byte) {
	if err := os.WriteFile(file, data, 0o644); err != nil {
		fail(fmt.Sprintf("cannot write %s: %v", file, err))
	}
}

func fail(message string) {
	fmt.Fprintln(os.Stderr, "gozip: "+message)
	os.Exit(2)
}
