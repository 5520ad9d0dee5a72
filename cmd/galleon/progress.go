package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/cwriter"
	"github.com/vbauerster/mpb/v8/decor"
)

// progressUI shows the progress of transfers and replication on w (the
// command's stderr): animated bars (mpb) when w is a terminal, otherwise,
// or with --quiet, a plain line each time a meter passes another 10% (and
// at least every plainInterval while it moves), so CI logs show progress
// without control characters.
type progressUI struct {
	w    io.Writer
	bars bool
	// now is the clock of the plain lines' interval (time.Now if nil).
	now func() time.Time

	mu sync.Mutex
	p  *mpb.Progress // the current phase's bars, nil between phases
}

// plainInterval is the longest a moving plain meter stays silent.
const plainInterval = 15 * time.Second

// newProgressUI shows progress on w: bars if w is a terminal and quiet is
// false.
func newProgressUI(w io.Writer, quiet bool) *progressUI {
	return &progressUI{w: w, bars: !quiet && isTerminal(w)}
}

// isTerminal reports whether w is a terminal that can draw bars: not a
// dumb one, and one that reports its size (mpb draws nothing otherwise).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" || !cwriter.IsTerminal(int(f.Fd())) {
		return false
	}
	width, height, err := cwriter.GetSize(int(f.Fd()))
	return err == nil && width >= 40 && height > 0
}

func (u *progressUI) clock() time.Time {
	if u.now != nil {
		return u.now()
	}
	return time.Now()
}

// Printf writes a line of status above the bars (or on its own).
func (u *progressUI) Printf(format string, args ...any) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.p != nil {
		fmt.Fprintf(u.p, format+"\n", args...)
		return
	}
	fmt.Fprintf(u.w, format+"\n", args...)
}

// meter is the progress of one quantity: bytes moved, or a region's
// replication percentage. Its methods are safe for concurrent use.
type meter interface {
	// Add moves the meter on by n.
	Add(n int64)
	// Set puts the meter at n.
	Set(n int64)
	// Status sets a word shown with the meter (a region's state).
	Status(s string)
	// Done ends the meter: complete if ok, aborted otherwise.
	Done(ok bool)
}

// phase starts a group of meters that end together with wait.
func (u *progressUI) phase() {
	if !u.bars {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.p = mpb.New(mpb.WithOutput(u.w), mpb.WithWidth(40), mpb.WithRefreshRate(150*time.Millisecond))
}

// wait ends the phase once every meter is done.
func (u *progressUI) wait() {
	u.mu.Lock()
	p := u.p
	u.p = nil
	u.mu.Unlock()
	if p != nil {
		p.Wait()
	}
}

// bytesMeter shows total bytes named name.
func (u *progressUI) bytesMeter(name string, total, start int64) meter {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.p == nil {
		return u.plain(name, total, start, true)
	}
	b := u.p.AddBar(total,
		mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR), decor.CountersKibiByte("% .1f / % .1f", decor.WCSyncSpace)),
		mpb.AppendDecorators(decor.OnAbort(decor.OnComplete(decor.Percentage(decor.WC{W: 5}), "done"), "stopped"),
			decor.Name(" "), decor.AverageSpeed(decor.SizeB1024(0), "% .1f", decor.WCSyncSpace)),
	)
	b.SetCurrent(start)
	b.DecoratorAverageAdjust(time.Now())
	return &barMeter{b: b}
}

// percentMeter shows a percentage (0-100) named name, with a status word.
func (u *progressUI) percentMeter(name string) meter {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.p == nil {
		return u.plain(name, 100, 0, false)
	}
	m := &barMeter{}
	m.b = u.p.AddBar(100,
		mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR), decor.Any(func(decor.Statistics) string { return m.status() }, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Percentage(decor.WC{W: 5})),
	)
	return m
}

// barMeter is a meter drawn by mpb.
type barMeter struct {
	b *mpb.Bar

	mu    sync.Mutex
	state string
}

func (m *barMeter) Add(n int64) { m.b.IncrInt64(n) }
func (m *barMeter) Set(n int64) { m.b.SetCurrent(n) }

func (m *barMeter) Status(s string) {
	m.mu.Lock()
	m.state = s
	m.mu.Unlock()
}

func (m *barMeter) status() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state
}

func (m *barMeter) Done(ok bool) {
	if ok {
		m.b.SetTotal(-1, true)
		return
	}
	m.b.Abort(false)
}

// plainMeter prints a line when it passes another 10%, when its status
// changes, and while it moves at least every plainInterval.
type plainMeter struct {
	u     *progressUI
	name  string
	total int64
	bytes bool

	mu      sync.Mutex
	cur     int64
	state   string
	decile  int64 // last 10% step printed
	printed int64 // value at the last line
	last    time.Time
	changed bool   // state changed since the last line
	line    string // the last line printed
	done    bool
}

func (u *progressUI) plain(name string, total, start int64, bytes bool) *plainMeter {
	m := &plainMeter{u: u, name: name, total: total, bytes: bytes, cur: start, printed: start, last: u.clock()}
	m.decile = m.step()
	return m
}

func (m *plainMeter) step() int64 {
	if m.total <= 0 {
		return 0
	}
	return min(m.cur, m.total) * 10 / m.total
}

func (m *plainMeter) Add(n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cur += n
	m.maybePrint()
}

func (m *plainMeter) Set(n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cur = n
	m.maybePrint()
}

// Status takes effect with the next Add, Set or Done, so a new state and
// its progress print as one line.
func (m *plainMeter) Status(s string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s != m.state {
		m.state, m.changed = s, true
	}
}

func (m *plainMeter) Done(ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done {
		return
	}
	m.done = true
	switch {
	case !ok:
		m.print(fmt.Sprintf("%s: stopped at %s", m.name, m.amount()))
	case m.bytes:
		m.print(fmt.Sprintf("%s: done, %s", m.name, humanBytes(m.cur)))
	default:
		m.cur = max(m.cur, m.total)
		m.print(fmt.Sprintf("%s: %s%s", m.name, m.statusPrefix(), m.amount()))
	}
}

// print writes line unless it repeats the previous one.
func (m *plainMeter) print(line string) {
	if line != m.line {
		m.line = line
		m.u.Printf("%s", line)
	}
}

// maybePrint prints the meter if its state changed, it passed another 10%
// short of the end (Done reports the end), or it moved and has been silent
// for plainInterval.
func (m *plainMeter) maybePrint() {
	if m.done {
		return
	}
	now := m.u.clock()
	d := m.step()
	moved := m.cur != m.printed
	if !m.changed && (d <= m.decile || d >= 10) && !(moved && now.Sub(m.last) >= plainInterval) {
		return
	}
	m.decile, m.printed, m.last, m.changed = d, m.cur, now, false
	m.print(fmt.Sprintf("%s: %s%s", m.name, m.statusPrefix(), m.amount()))
}

func (m *plainMeter) statusPrefix() string {
	if m.state == "" {
		return ""
	}
	return m.state + " "
}

func (m *plainMeter) amount() string {
	pct := int64(0)
	if m.total > 0 {
		pct = min(m.cur, m.total) * 100 / m.total
	}
	if m.bytes {
		return fmt.Sprintf("%d%% (%s of %s)", pct, humanBytes(m.cur), humanBytes(m.total))
	}
	return fmt.Sprintf("%d%%", pct)
}

// humanBytes formats n bytes with binary units: "512 B", "28.0 MiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), 0
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	for v /= unit; (v >= unit || v <= -unit) && i < len(units)-1; v /= unit {
		i++
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}
