package vfs

// HashChunk is hashChunk, for the external tests that write across chunks.
const HashChunk = hashChunk
