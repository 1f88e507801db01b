package engine

import (
	"fmt"
	"testing"
)

func TestRecentKeepsTheLatestNewestFirst(t *testing.T) {
	s := newStats()
	if got := s.Recent(); len(got) != 0 {
		t.Fatalf("empty stats gave %d events", len(got))
	}
	for i := 0; i < 3; i++ {
		s.note(Event{Item: fmt.Sprint(i)})
	}
	if got := s.Recent(); len(got) != 3 || got[0].Item != "2" || got[2].Item != "0" {
		t.Fatalf("recent %+v", got)
	}
	for i := 3; i < recentEvents+50; i++ {
		s.note(Event{Item: fmt.Sprint(i)})
	}
	got := s.Recent()
	if len(got) != recentEvents || got[0].Item != fmt.Sprint(recentEvents+49) || got[recentEvents-1].Item != "50" {
		t.Fatalf("after wrapping: %d events, newest %q, oldest %q", len(got), got[0].Item, got[len(got)-1].Item)
	}
}
