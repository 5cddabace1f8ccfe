package jt808

import (
	"strconv"
	"time"
)

// Record types on port.transport.
const (
	TypeTruckPosition = "truck.position"
	TypeTruckAlarm    = "truck.alarm"
)

// alarmNames are the alarm bits that become truck alarms, by bit.
var alarmNames = [...]struct {
	bit  uint32
	name string
}{
	{AlarmEmergency, "emergency"},
	{AlarmOverspeed, "overspeed"},
	{AlarmFatigue, "fatigue_driving"},
}

// RecordID is the id of the record of one location: the same report sent
// again (a retransmission after a lost reply) has the same id.
func RecordID(device string, serial uint16, t time.Time) string {
	return "jt808:" + device + ":" + strconv.Itoa(int(serial)) + ":" + strconv.FormatInt(t.Unix(), 10)
}

// AppendPosition appends the truck.position JSON of l. plate must be a
// plate that state.ParsePlate accepts (the store's plates are).
func AppendPosition(dst []byte, id, plate string, l *Location) []byte {
	dst = append(dst, `{"type":"truck.position","id":`...)
	dst = strconv.AppendQuote(dst, id)
	dst = append(dst, `,"plate":`...)
	dst = strconv.AppendQuote(dst, plate)
	dst = append(dst, `,"lat":`...)
	dst = strconv.AppendFloat(dst, l.Lat, 'f', -1, 64)
	dst = append(dst, `,"lon":`...)
	dst = strconv.AppendFloat(dst, l.Lon, 'f', -1, 64)
	dst = append(dst, `,"t":"`...)
	dst = l.Time.UTC().AppendFormat(dst, time.RFC3339)
	dst = append(dst, `","speed":`...)
	dst = strconv.AppendFloat(dst, l.SpeedKmh, 'f', -1, 64)
	dst = append(dst, `,"heading":`...)
	dst = strconv.AppendInt(dst, int64(l.Heading), 10)
	dst = append(dst, `,"alt":`...)
	dst = strconv.AppendInt(dst, int64(l.AltitudeM), 10)
	dst = append(dst, `,"source":"jt808"}`...)
	return dst
}

// Alarms calls fn with the name of each alarm of l that becomes a truck
// alarm.
func Alarms(l *Location, fn func(name string)) {
	for _, a := range alarmNames {
		if l.Alarm&a.bit != 0 {
			fn(a.name)
		}
	}
}

// AppendAlarm appends the truck.alarm JSON (kind "truck_alarm") of alarm
// name raised in l.
func AppendAlarm(dst []byte, id, plate, name string, l *Location) []byte {
	dst = append(dst, `{"type":"truck.alarm","kind":"truck_alarm","id":`...)
	dst = strconv.AppendQuote(dst, id+":"+name)
	dst = append(dst, `,"plate":`...)
	dst = strconv.AppendQuote(dst, plate)
	dst = append(dst, `,"alarm":`...)
	dst = strconv.AppendQuote(dst, name)
	dst = append(dst, `,"lat":`...)
	dst = strconv.AppendFloat(dst, l.Lat, 'f', -1, 64)
	dst = append(dst, `,"lon":`...)
	dst = strconv.AppendFloat(dst, l.Lon, 'f', -1, 64)
	dst = append(dst, `,"t":"`...)
	dst = l.Time.UTC().AppendFormat(dst, time.RFC3339)
	dst = append(dst, `","source":"jt808"}`...)
	return dst
}
