// gofs: the file operations a Go tool makes, printed in a stable order, for the parity tests.
//
//	gofs ops DIR       MkdirAll, WriteFile, ReadFile, Stat, ReadDir, Rename, Chdir + relative
//	                   read, filepath.Walk, an exec'd cat and sh, and this program exec'd
//	                   with an environment of one variable (gofs child)
//	gofs child FILE    reads FILE, writes FILE.child beside it, prints both and the cwd
//	gofs more DIR      Symlink, Readlink, Lstat, EvalSymlinks, Link, Chmod, Truncate, Chtimes,
//	                   CreateTemp, MkdirTemp, WalkDir, DirFS, LookPath in a PATH there,
//	                   Getwd after Chdir through a link, Remove, RemoveAll
//	gofs stress DIR N M  N goroutines x M file operations each; prints the failure count
package main

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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

func more(dir string) {
	d := filepath.Join(dir, "more")
	check("mkdir", os.MkdirAll(filepath.Join(d, "sub", "deep"), 0o755))
	f := filepath.Join(d, "sub", "f.txt")
	check("write", os.WriteFile(f, []byte("0123456789"), 0o644))
	check("symlink", os.Symlink("sub/f.txt", filepath.Join(d, "l")))
	check("symlink dir", os.Symlink("sub", filepath.Join(d, "ld")))
	t, err := os.Readlink(filepath.Join(d, "l"))
	check("readlink", err)
	fmt.Printf("readlink %s\n", t)
	if st, err := os.Lstat(filepath.Join(d, "l")); err == nil {
		fmt.Printf("lstat symlink=%v\n", st.Mode()&os.ModeSymlink != 0)
	}
	ev, err := filepath.EvalSymlinks(filepath.Join(d, "ld", "f.txt"))
	check("evalsymlinks", err)
	rel, _ := filepath.Rel(dir, ev)
	fmt.Printf("evalsymlinks %s\n", rel)
	check("link", os.Link(f, filepath.Join(d, "hard.txt")))
	check("chmod", os.Chmod(filepath.Join(d, "hard.txt"), 0o600))
	check("truncate", os.Truncate(filepath.Join(d, "l"), 4))
	check("chtimes", os.Chtimes(f, time.Unix(1600000000, 0), time.Unix(1600000000, 0)))
	if st, err := os.Stat(f); err == nil {
		fmt.Printf("after link/chmod/truncate/chtimes: size=%d mode=%v mtime=%d\n", st.Size(), st.Mode(), st.ModTime().Unix())
	}
	tf, err := os.CreateTemp(d, "tmp-*.txt")
	check("createtemp", err)
	if err == nil {
		tf.WriteString("temp")
		tf.Close()
		check("rename temp", os.Rename(tf.Name(), filepath.Join(d, "saved.txt")))
	}
	td, err := os.MkdirTemp(d, "dir-*")
	check("mkdirtemp", err)
	check("remove tempdir", os.Remove(td))
	check("walkdir", filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(dir, p)
		fmt.Printf("walkdir %s dir=%v link=%v\n", r, e.IsDir(), e.Type()&fs.ModeSymlink != 0)
		return nil
	}))
	b, err := fs.ReadFile(os.DirFS(d), "sub/f.txt")
	check("dirfs", err)
	fmt.Printf("dirfs %q\n", b)
	bin := filepath.Join(d, "bin")
	check("mkdir bin", os.Mkdir(bin, 0o755))
	check("write tool", os.WriteFile(filepath.Join(bin, "gotool"), []byte("#!/bin/sh\necho tool ran \"$@\"\n"), 0o755))
	os.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	lp, err := exec.LookPath("gotool")
	check("lookpath", err)
	rel, _ = filepath.Rel(dir, lp)
	fmt.Printf("lookpath %s\n", rel)
	out, err := exec.Command("gotool", "x").CombinedOutput()
	check("run tool", err)
	fmt.Printf("tool %q\n", out)
	check("chdir link", os.Chdir(filepath.Join(d, "ld", "deep")))
	wd, _ := os.Getwd()
	rel, _ = filepath.Rel(dir, wd)
	fmt.Printf("getwd %s\n", rel)
	b, err = os.ReadFile("../f.txt")
	check("read ..", err)
	fmt.Printf("read .. %q\n", b)
	check("chdir back", os.Chdir(dir))
	check("remove", os.Remove(filepath.Join(d, "hard.txt")))
	err = os.Remove(filepath.Join(d, "sub"))
	fmt.Printf("remove non-empty dir fails: %v\n", err != nil)
	check("removeall", os.RemoveAll(filepath.Join(d, "sub")))
	_, err = os.Stat(filepath.Join(d, "l"))
	fmt.Printf("dangling after removeall: %v\n", os.IsNotExist(err))
	ents, _ := os.ReadDir(d)
	for _, e := range ents {
		fmt.Printf("left %s\n", e.Name())
	}
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
	case "more":
		more(os.Args[2])
	case "stress":
		n, _ := strconv.Atoi(os.Args[3])
		m, _ := strconv.Atoi(os.Args[4])
		stress(os.Args[2], n, m)
	}
}
