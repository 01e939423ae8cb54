package bintest

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Proc is a process of the binary whose output lines a test keeps, for a
// failure's log and to wait on. It is killed when the test ends.
type Proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and its output is read

	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced on every new line
}

// Start runs bin with args and env added to this process's environment.
func Start(t testing.TB, bin string, env []string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s %s: %v", bin, strings.Join(args, " "), err)
	}
	p := &Proc{cmd: cmd, done: make(chan struct{}), changed: make(chan struct{})}
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
		io.Copy(io.Discard, pr)
	}()
	go func() {
		cmd.Wait()
		pw.Close()
		<-read
		close(p.done)
	}()
	t.Cleanup(p.Kill)
	return p
}

// Kill is kill -9, and returns once the process is gone.
func (p *Proc) Kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// Signal sends s to the process.
func (p *Proc) Signal(s os.Signal) { p.cmd.Process.Signal(s) }

// Done is closed once the process has exited and its output is read.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited waits, at most d, for the process to end by itself.
func (p *Proc) Exited(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// ExitCode is the exit code of a process that has ended.
func (p *Proc) ExitCode() int { return p.cmd.ProcessState.ExitCode() }

// Output is every line so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// FindLine waits, at most d, until a line, old or new, matches re.
func (p *Proc) FindLine(re *regexp.Regexp, d time.Duration) bool {
	timeout := time.After(d)
	seen := 0
	for {
		p.mu.Lock()
		lines, changed := p.lines[seen:], p.changed
		seen = len(p.lines)
		p.mu.Unlock()
		for _, l := range lines {
			if re.MatchString(l) {
				return true
			}
		}
		select {
		case <-changed:
		case <-p.done:
			p.mu.Lock()
			more := len(p.lines) > seen
			p.mu.Unlock()
			if !more {
				return false
			}
		case <-timeout:
			return false
		}
	}
}
