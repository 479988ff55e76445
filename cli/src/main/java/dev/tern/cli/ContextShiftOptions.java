package dev.tern.cli;

import dev.tern.TernException;
import dev.tern.engine.ContextShift;
import picocli.CommandLine.Option;

/** llama.cpp's context-shift flags, shared by run and serve. */
final class ContextShiftOptions {
    @Option(names = "--context-shift", negatable = true, description = "When the context is full, drop the older half of"
            + " the tokens after --keep and go on, as llama.cpp's --context-shift (Tern computes the tokens after the gap"
            + " again rather than re-rotating their keys: exact, and a prompt pass per shift; default: off, a full context ends"
            + " the generation)")
    boolean enabled;

    @Option(names = "--keep", description = "Tokens kept at the start when the context shifts, after BOS (default: ${DEFAULT-VALUE};"
            + " -1: the whole prompt)")
    int keep = 0;

    ContextShift shift() {
        if (keep < -1) {
            throw new TernException("--keep must be -1 (the whole prompt) or more, got " + keep);
        }
        return enabled ? ContextShift.keeping(keep, 0) : ContextShift.NONE;
    }
}
