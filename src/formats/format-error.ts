// Bad bytes (or a request that cannot be encoded) in one of the pure codecs under src/formats.
// Formats import nothing else of ours, so this is the one error they share; callers that know
// which file or stage was involved wrap or re-throw it with that context.

export class FormatError extends Error {
  override name = "FormatError";
}
