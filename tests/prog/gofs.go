// gofs: the file operations a Go tool makes, printed in a stable order, for the parity tests.
//
//	gofs ops DIR       MkdirAll, WriteFile, ReadFile, Stat, ReadDir, Rename, Chdir + relative
//	                   read, filepath.Walk, an exec'd cat and sh, and this program exec'd
//	                   with an environment of one variable (gofs child)
//	gofs child FILE    reads FILE, writes FILE.child beside it, prints both and the cwd
//	gofs stress DIR N M  N goroutines x M file operations each; prints the failure count
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

func check(what string, err error) {
	if err != nil {
		fmt.Printf("%s !! %v\n", what, err)
	}
}

func ops(dir string) {
	d := filepath.Join(dir, "go", "a", "b")
	check("mkdirall", os.MkdirAll(d, 0o755))
	f := filepath.Join(d, "f.txt")
	check("writefile", os.WriteFile(f, []byte("hello from go\n"), 0o644))
	b, err := os.ReadFile(f)
	check("readfile", err)
	fmt.Printf("read %q\n", b)
	st, err := os.Stat(f)
	check("stat", err)
	if err == nil {
		fmt.Printf("stat size=%d mode=%v dir=%v\n", st.Size(), st.Mode(), st.IsDir())
	}
	check("writefile2", os.WriteFile(filepath.Join(d, "g.txt"), []byte("second"), 0o600))
	ents, err := os.ReadDir(d)
	check("readdir", err)
	for _, e := range ents {
		fmt.Printf("entry %s dir=%v\n", e.Name(), e.IsDir())
	}
	check("rename", os.Rename(filepath.Join(d, "g.txt"), filepath.Join(dir, "go", "a", "moved.txt")))
	_, err = os.Stat(filepath.Join(d, "g.txt"))
	fmt.Printf("old name gone: %v\n", os.IsNotExist(err))
	check("chdir", os.Chdir(filepath.Join(dir, "go", "a")))
	b, err = os.ReadFile("moved.txt")
	check("relative read", err)
	fmt.Printf("relative %q\n", b)
	wd, _ := os.Getwd()
	fmt.Printf("getwd %s\n", wd)
	check("walk", filepath.Walk(filepath.Join(dir, "go"), func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Printf("walk %s %d %v\n", rel, info.Size(), info.IsDir())
		return nil
	}))
	out, err := exec.Command("cat", "b/f.txt", filepath.Join(dir, "go", "a", "moved.txt")).CombinedOutput()
	check("exec cat", err)
	fmt.Printf("cat %q\n", out)
	out, err = exec.Command("sh", "-c", "ls -1 b && pwd").CombinedOutput()
	check("exec sh", err)
	fmt.Printf("sh %q\n", out)
	// a Go child (os/exec: clone(CLONE_VM|CLONE_VFORK), execve) given an environment of its own
	self, err := os.Executable()
	check("executable", err)
	c := exec.Command(self, "child", filepath.Join(dir, "go", "a", "moved.txt"))
	c.Env = []string{"ONLY=1"}
	if os.Getenv("SMSHIM_SAN") != "" {
		// a sanitizer's runtime must come first in LD_PRELOAD, and the shim puts back only itself
		c.Env = append(c.Env, "LD_PRELOAD="+os.Getenv("LD_PRELOAD"))
	}
	out, err = c.CombinedOutput()
	check("exec self", err)
	fmt.Printf("child %q\n", strings.ReplaceAll(string(out), dir, "$DIR"))
}

func child(file string) {
	b, err := os.ReadFile(file)
	check("child read", err)
	check("child write", os.WriteFile(file+".child", []byte("from the child\n"), 0o644))
	c, err := os.ReadFile(file + ".child")
	check("child read back", err)
	wd, _ := os.Getwd()
	fmt.Printf("%q %q %s", b, c, wd)
}

func stress(dir string, n, m int) {
	var fails int64
	var wg sync.WaitGroup
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			gd := filepath.Join(dir, "stress", strconv.Itoa(g%20), strconv.Itoa(g))
			if err := os.MkdirAll(gd, 0o755); err != nil {
				atomic.AddInt64(&fails, 1)
				fmt.Fprintf(os.Stderr, "mkdir %v\n", err)
				return
			}
			for i := 0; i < m; i++ {
				p := filepath.Join(gd, "f"+strconv.Itoa(i%10))
				var err error
				switch i % 5 {
				case 0, 1:
					err = os.WriteFile(p, []byte(fmt.Sprintf("%d-%d\n", g, i)), 0o644)
				case 2:
					_, err = os.ReadFile(filepath.Join(gd, "f"+strconv.Itoa((i-1)%10)))
				case 3:
					_, err = os.Stat(filepath.Join(gd, "f"+strconv.Itoa((i-2)%10)))
				case 4:
					_, err = os.ReadDir(gd)
				}
				if err != nil {
					atomic.AddInt64(&fails, 1)
					fmt.Fprintf(os.Stderr, "op %d: %v\n", i, err)
				}
			}
		}(g)
	}
	wg.Wait()
	fmt.Printf("stress %d x %d: %d failures\n", n, m, fails)
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: gofs ops DIR | gofs child FILE | gofs stress DIR N M")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "ops":
		ops(os.Args[2])
	case "child":
		child(os.Args[2])
	case "stress":
		n, _ := strconv.Atoi(os.Args[3])
		m, _ := strconv.Atoi(os.Args[4])
		stress(os.Args[2], n, m)
	}
}
