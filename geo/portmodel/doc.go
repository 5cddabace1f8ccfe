// Package portmodel holds porttrack's model of the Ningbo-Zhoushan port as
// versioned GeoJSON data (ningbo-zhoushan.geojson): port areas, container
// terminals with berths, yard blocks and gates, anchorages, the deep-water
// approach route, rail stations and RFID reader positions.
//
// # The data
//
// One FeatureCollection in WGS84 [lon, lat] order. Every feature has the
// properties id (stable; other configuration refers to it), name, name_zh
// (the Chinese name: every feature but reader points), kind (one
// of port_area, terminal, berth, yard_block, gate, anchorage, route,
// rail_station, reader), approximate and source, and where relevant
// port_area, terminal, facility (the RFID facility id of the reader table,
// e.g. "CNNGB-BLCT-GATE") and reader (a reader id, on reader points).
// Container location uses the reader → place mapping: a reader point names
// the fence it serves (fence: the gate, berth, yard block or rail station),
// and that polygon lists its readers (readers: reader ids); yard blocks carry
// their block code (block: "A", "3C", ...; the inspection areas
// "INSPECTION") and a facility id of their own (CNNGB-BLCT-YARD-C). Quay-crane
// readers serve the berth nearest their nominal position, which is as
// approximate as the shapes.
// Polygons have one closed, counter-clockwise, simple exterior ring.
//
// Only the Beilun anchorage polygon and the Xiazhimen TSS separation line are
// published (DOMAIN.md §10); every other shape is marked approximate: true and
// placed by porttrack. Check an approximate shape on a chart before relying on
// it as a fence. The shapes are configuration, not code: deployments replace
// this file, and code must not hard-code them (DOMAIN.md §10 [A]).
//
// portmodel is part of the geo leaf: it imports no porttrack package.
package portmodel
