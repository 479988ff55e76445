package dev.tern.spec;

import dev.tern.engine.GenerationResult;

/** A generation made with speculation: the same result a plain generation gives, plus what speculation did. */
public record SpeculativeResult(GenerationResult generation, SpeculativeStats stats) {
}
