package dev.tern.bench;

import dev.tern.gguf.GGUFFile;
import dev.tern.sampling.GbnfGrammar;
import dev.tern.sampling.Grammar;
import dev.tern.sampling.GrammarConstraint;
import dev.tern.sampling.JsonSchema;
import dev.tern.sampling.TextPattern;
import dev.tern.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The cost of a constraint's full mask over a vocabulary (what the sampler pays when the model's
 * own pick is refused): for a JSON object, a GBNF grammar and a regex, a mask at every token of a
 * text the grammar takes, three rounds (the first includes compilation). Usage: {@code java -cp
 * tern-jmh.jar dev.tern.bench.MaskCost VOCAB.gguf GRAMMAR.gbnf} (the grammar must take the JSON
 * text below, a leading space allowed).
 */
public final class MaskCost {
    private MaskCost() {
    }

    public static void main(String[] args) throws IOException {
        Tokenizer t;
        try (GGUFFile f = GGUFFile.open(Path.of(args[0]))) {
            t = Tokenizer.fromGGUF(f);
        }
        GrammarConstraint.Vocabulary v = new GrammarConstraint.Vocabulary(t);
        String json = "{\"name\": \"Lily\", \"friends\": [\"Tom\", \"Sue\"], \"age\": 3, \"happy\": true}";
        Grammar[] grammars = {JsonSchema.ANY_OBJECT, GbnfGrammar.parse(Files.readString(Path.of(args[1]))),
                TextPattern.regex(" ?[A-Z][a-z]+( [a-z]+){0,20}\\.")};
        String[] texts = {json, json, "Once upon a time there was a girl."};
        for (int round = 1; round <= 3; round++) {
            for (int k = 0; k < grammars.length; k++) {
                int[] ids = t.encode(texts[k], false, false);
                GrammarConstraint c = new GrammarConstraint(v, grammars[k]);
                long t0 = System.nanoTime();
                for (int id : ids) {
                    c.mask(new float[t.vocabSize()]);
                    c.accept(id);
                }
                System.out.printf("round %d, %s: %.2f ms per mask (%d tokens)%n", round, grammars[k].getClass().getSimpleName(),
                        (System.nanoTime() - t0) / 1e6 / ids.length, ids.length);
            }
        }
    }
}
