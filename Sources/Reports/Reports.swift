// The reports layer: tables and plots rendered from HDF5 results files.
// Filled by the reporting issue.
