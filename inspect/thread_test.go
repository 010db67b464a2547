package inspect

import (
	"reflect"
	"testing"
)

func TestClassifyThread(t *testing.T) {
	tests := []struct {
		subject  string
		threaded bool
		want     string
	}{
		{"Hello", false, ThreadNew},
		{"Re: Hello", true, ThreadReply},
		{"Hello", true, ThreadReply},
		{"Re: Hello", false, ThreadBroken},
		{"RE: Hello", false, ThreadBroken},
		{"re:Hello", false, ThreadBroken},
		{"RE : Bonjour", false, ThreadBroken},
		{"AW: Hallo", false, ThreadBroken},
		{"SV: Hej", false, ThreadBroken},
		{"VS: Terve", false, ThreadBroken},
		{"Antw: Hallo", false, ThreadBroken},
		{"Odp: Cześć", false, ThreadBroken},
		{"YNT: Merhaba", false, ThreadBroken},
		{"Re[2]: Hello", false, ThreadBroken},
		{"Re(3): Hello", false, ThreadBroken},
		{"Re^2: Hello", false, ThreadBroken},
		{"[support] Re: ticket", false, ThreadBroken},
		{"[list] [tag] AW: x", false, ThreadBroken},
		{"回复：你好", false, ThreadBroken},
		{"=?UTF-8?Q?AW=3A_Rechnung?=", false, ThreadBroken},
		{"=?iso-8859-1?Q?AW:_2492_-_=", false, ThreadBroken}, // truncated encoded-word (Outlook)
		{"Fwd: Re: Hello", false, ThreadNew},
		{"Fwd: Hello", false, ThreadNew},
		{"WG: Hallo", false, ThreadNew},
		{"TR: Bonjour", false, ThreadNew},
		{"RV: Hola", false, ThreadNew},
		{"Hello Re: world", false, ThreadNew},
		{"Reply needed", false, ThreadNew},
		{"Regarding: invoice", false, ThreadNew},
		{"", false, ThreadNew},
		{"[unterminated tag", false, ThreadNew},
	}
	for _, tt := range tests {
		if got := classifyThread(tt.subject, tt.threaded, nil); got.State != tt.want {
			t.Errorf("classifyThread(%q, %v) = %q, want %q", tt.subject, tt.threaded, got.State, tt.want)
		}
	}
}

func TestThreadRisk(t *testing.T) {
	got := classifyThread("Re: x", false, []string{RiskDropsInReplyTo})
	want := Thread{State: ThreadBroken, Risks: []string{RiskDropsInReplyTo}}
	if !reflect.DeepEqual(got, want) || got.Value() != "broken; risk=drops-in-reply-to" {
		t.Errorf("classifyThread with risk = %+v (%q), want %+v", got, got.Value(), want)
	}
}
