package dev.tern.engine;

/** What a slot action did: the tokens it saved, restored or erased, and the file's bytes. */
public record SlotResult(int tokens, long bytes) {
}
