package state

import (
	"errors"
	"testing"
)

func TestCheckContainer(t *testing.T) {
	// Test vectors from DOMAIN.md §2.1.
	valid := []string{"CSQU3054383", "MSKU9070323", "APZU4812090", "CICU3789922", "CSQU3054300"}
	for _, s := range valid {
		if err := CheckContainer(s); err != nil {
			t.Errorf("CheckContainer(%q) = %v, want nil", s, err)
		}
	}
	bad := map[string]error{
		"TGHU0436452":  ErrContainerCheckDigit,
		"CSQU3054384":  ErrContainerCheckDigit,
		"CSQU305438":   ErrContainerFormat,
		"CSQX3054383":  ErrContainerFormat,
		"csqu3054383":  ErrContainerFormat,
		"CSQU30543A3":  ErrContainerFormat,
		"":             ErrContainerFormat,
		"CSQU30543833": ErrContainerFormat,
	}
	for s, want := range bad {
		if err := CheckContainer(s); !errors.Is(err, want) {
			t.Errorf("CheckContainer(%q) = %v, want %v", s, err, want)
		}
	}
}

func TestParseContainer(t *testing.T) {
	for in, want := range map[string]string{
		"CSQU3054383":   "CSQU3054383",
		"csqu 305438-3": "CSQU3054383",
		"CSQU 305438/3": "CSQU3054383",
		" msku9070323 ": "MSKU9070323",
	} {
		got, err := ParseContainer(in)
		if err != nil || got != want {
			t.Errorf("ParseContainer(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseContainer("TGHU0436452"); !errors.Is(err, ErrContainerCheckDigit) {
		t.Errorf("ParseContainer(TGHU0436452) = %v, want check digit error", err)
	}
}

func TestCheckContainerAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = CheckContainer("CSQU3054383") }); n != 0 {
		t.Fatalf("CheckContainer allocates %v times", n)
	}
}
