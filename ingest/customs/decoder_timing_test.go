package customs

import (
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/porttrack/porttrack/state"
)

func BenchmarkDecode(b *testing.B) {
	utf := readFile(b, "ceb311.xml")
	gbk, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(strings.Replace(string(utf), `encoding="UTF-8"`, `encoding="GB2312"`, 1)))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		value []byte
	}{{"format=xml-utf8", utf}, {"format=xml-gb2312", gbk}, {"format=json-ceb411", readFile(b, "ceb411.json")}, {"format=json-container", readFile(b, "container_held.json")}} {
		b.Run(c.name, func(b *testing.B) {
			d := NewDecoder(Config{})
			var dst []state.CustomsDoc
			b.ReportAllocs()
			b.SetBytes(int64(len(c.value)))
			for b.Loop() {
				var err error
				if dst, err = d.Decode(dst[:0], c.value); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
