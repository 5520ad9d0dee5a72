package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestHumanBytes(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {512, "512 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{12 << 20, "12.0 MiB"}, {20<<20 + 512, "20.0 MiB"}, {3 << 30, "3.0 GiB"}, {5 << 40, "5.0 TiB"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := humanBytes(tc.n); got != tc.want {
				t.Errorf("humanBytes(%d) = %q, want %q", tc.n, got, tc.want)
			}
		})
	}
}

// TestPlainMeter checks the lines a meter prints when stderr is not a
// terminal: one per 10% passed, one when the state changes, one while it
// moves slowly, and the end, without repeats.
func TestPlainMeter(t *testing.T) {
	t.Run("Bytes", func(t *testing.T) {
		var out bytes.Buffer
		now := time.Unix(0, 0)
		u := newProgressUI(&out, false)
		u.now = func() time.Time { return now }
		m := u.bytesMeter("upload", 100<<20, 0)
		for range 10 {
			m.Add(4 << 20) // 40 MiB in 4 MiB steps
		}
		now = now.Add(plainInterval) // silent too long: the next move prints
		m.Add(1 << 20)
		m.Add(1 << 20)
		for range 15 {
			m.Add(4 << 20) // to 102 MiB: past the end
		}
		m.Done(true)
		m.Done(true)
		want := []string{
			"upload: 12% (12.0 MiB of 100.0 MiB)",
			"upload: 20% (20.0 MiB of 100.0 MiB)",
			"upload: 32% (32.0 MiB of 100.0 MiB)",
			"upload: 40% (40.0 MiB of 100.0 MiB)",
			"upload: 41% (41.0 MiB of 100.0 MiB)",
			"upload: 50% (50.0 MiB of 100.0 MiB)",
			"upload: 62% (62.0 MiB of 100.0 MiB)",
			"upload: 70% (70.0 MiB of 100.0 MiB)",
			"upload: 82% (82.0 MiB of 100.0 MiB)",
			"upload: 90% (90.0 MiB of 100.0 MiB)",
			"upload: done, 102.0 MiB",
		}
		if got := strings.Split(strings.TrimSpace(out.String()), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("lines:\n%s\nwant:\n%s", out.String(), strings.Join(want, "\n"))
		}
	})
	t.Run("Region", func(t *testing.T) {
		var out bytes.Buffer
		u := newProgressUI(&out, true)
		m := u.percentMeter("westus2")
		m.Status("Queued")
		m.Status("Replicating")
		m.Set(0)
		m.Set(5)
		m.Set(35)
		m.Status("Replicating")
		m.Set(35)
		m.Status("Completed")
		m.Set(100)
		m.Done(true)
		want := "westus2: Replicating 0%\nwestus2: Replicating 35%\nwestus2: Completed 100%\n"
		if out.String() != want {
			t.Errorf("lines:\n%s\nwant:\n%s", out.String(), want)
		}
	})
	t.Run("Aborted", func(t *testing.T) {
		var out bytes.Buffer
		u := newProgressUI(&out, true)
		m := u.bytesMeter("download", 10<<20, 4<<20) // resumed at 40%
		m.Add(1 << 19)
		m.Done(false)
		m.Add(1 << 20)
		if want := "download: stopped at 45% (4.5 MiB of 10.0 MiB)\n"; out.String() != want {
			t.Errorf("lines:\n%s\nwant:\n%s", out.String(), want)
		}
	})
}
