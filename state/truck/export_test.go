package truck

// IndexLen is the number of trucks in the table's position index.
func (t *Trucks) IndexLen() int { return t.table.idx.Len() }
