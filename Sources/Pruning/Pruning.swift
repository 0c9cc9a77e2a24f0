// The compression layer: one file per method (magnitude-sp, Wanda-sp, SliceGPT, IntraSlice)
// behind one protocol, talking to an architecture adapter. Filled by the "Compression methods" issue.
