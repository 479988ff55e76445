package dev.tern.tokenizer;

import dev.tern.testing.Fixtures;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** The hf/ tokenizer.json fixtures, each parsed once per test run (they are large). */
final class HfTokenizers {
    private static final Map<String, Tokenizer> CACHE = new ConcurrentHashMap<>();

    private HfTokenizers() {
    }

    static Tokenizer get(String model) {
        return CACHE.computeIfAbsent(model, m ->
                Tokenizer.fromTokenizerJson(Fixtures.tokenizers().resolve("hf").resolve(m).resolve("tokenizer.json")));
    }
}
