package progress_test

import (
	"os"
	"time"

	"github.com/go-rlm/rlm/rlm/progress"
)

func ExampleBar() {
	// A fixed clock that moves 10s per reading, so that the output is
	// deterministic; real code leaves the clock alone.
	t := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { t = t.Add(10 * time.Second); return t }

	bar := progress.New(os.Stdout, "test split", 6000,
		progress.WithItemName("examples"), progress.WithTerminal(false), progress.WithClock(clock))
	for range 3 {
		bar.Add(1500)
	}
	bar.Finish()
	// Output:
	// test split   25%  1500/6000 examples  150/s  ETA 30s
	// test split   50%  3000/6000 examples  150/s  ETA 20s
	// test split   75%  4500/6000 examples  150/s  ETA 10s
	// test split   75%  4500/6000 examples  112/s  in 40s
}
