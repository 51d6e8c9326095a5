// How large a configuration tandem accepts: a limit derived from the memory loading it
// takes, not a round number (README "Configuration" states the figures; npm run bench -- big
// measures them).

/** The heap the loader's worker thread may use (its V8 old-generation limit): transient,
 *  released when the worker ends. */
export const loaderHeapBytes = 2 * 2 ** 30;

/** Live heap at the peak of a load per byte of file, measured on generated tables (README
 *  "Big configurations"): tandem.yaml up to 63 (the YAML library keeps a node per scalar),
 *  ipvsadm rules up to 44, ldirectord.cf, keepalived.conf and lvs.cf 13–35. The worst
 *  format sets the limit. */
export const peakHeapPerFileByte = 64;

/** Configuration files larger than this are refused before they are read: the largest a
 *  load fits in the loader's heap whatever the format (32 MiB). */
export const maxConfigBytes = Math.floor(loaderHeapBytes / peakHeapPerFileByte);
