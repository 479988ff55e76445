package dev.tern.engine;

import dev.tern.Tern;
import dev.tern.TernException;
import dev.tern.kv.KVCacheType;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A session's KV cache saved and restored (the prompt cache): with restored positions, in every
 * cache type, the logits after them are those of a session that computed them; files of another
 * model, cut short or of another kind are refused and leave nothing half restored.
 */
class SessionFileTest {
    private static final Path MODEL = Fixtures.stories15M("stories15M-distilled-f32.gguf");

    @Test
    void restoredPositionsAreTheComputedOnes(@TempDir Path dir) {
        for (KVCacheType type : KVCacheType.values()) {
            try (Tern tern = Tern.load(MODEL, null, new Tern.Options(2, 128, 4, type))) {
                int[] prompt = tern.tokenizer().encode("Once upon a time, there was a little girl named Lily.", true, false);
                byte[] fingerprint = SessionFile.fingerprint(MODEL);
                Path file = dir.resolve(type + ".kv");
                try (Session s = tern.newSession()) {
                    s.forward(prompt);
                    SessionFile.save(file, s, prompt, fingerprint);
                }
                // A longer prompt sharing the first: all of that one is restored, the rest computed.
                int[] longer = tern.tokenizer().encode("Once upon a time, there was a little girl named Lily. She liked cats.",
                        true, false);
                assertArrayEquals(prompt, Arrays.copyOf(longer, prompt.length), "the second prompt starts with the first");
                float[] restoredLogits;
                try (Session s = tern.newSession()) {
                    assertEquals(prompt.length, SessionFile.restore(file, s, longer, fingerprint), type.toString());
                    restoredLogits = s.forward(Arrays.copyOfRange(longer, prompt.length, longer.length));
                }
                float[] computedLogits;
                try (Session s = tern.newSession()) {
                    s.forward(prompt);
                    computedLogits = s.forward(Arrays.copyOfRange(longer, prompt.length, longer.length));
                }
                // Not bit for bit: the same kernel may run compiled once and interpreted the other time.
                assertArrayEquals(computedLogits, restoredLogits, 1e-4f, type + ": restored keys and values are the computed ones");
                // The same prompt again: all but its last token, whose logits start the generation.
                try (Session s = tern.newSession()) {
                    assertEquals(prompt.length - 1, SessionFile.restore(file, s, prompt, fingerprint));
                    assertEquals(prompt.length - 1, s.position());
                }
                try (Session s = tern.newSession()) {
                    assertEquals(0, SessionFile.restore(dir.resolve("none.kv"), s, prompt, fingerprint), "no file, nothing restored");
                    int[] other = tern.tokenizer().encode("The cat", true, false);
                    assertEquals(1, SessionFile.restore(file, s, other, fingerprint), "only the BOS is shared");
                }
            }
        }
    }

    @Test
    void refusesAnotherModelsOrADamagedFile(@TempDir Path dir) throws Exception {
        try (Tern tern = Tern.load(MODEL, null, new Tern.Options(2, 128, 4, KVCacheType.F16))) {
            int[] prompt = tern.tokenizer().encode("Once upon a time", true, false);
            byte[] fingerprint = SessionFile.fingerprint(MODEL);
            Path file = dir.resolve("p.kv");
            try (Session s = tern.newSession()) {
                s.forward(prompt);
                SessionFile.save(file, s, prompt, fingerprint);
            }
            byte[] other = SessionFile.fingerprint(Fixtures.stories15M("stories15M-distilled-q8_0.gguf"));
            try (Session s = tern.newSession()) {
                TernException e = assertThrows(TernException.class, () -> SessionFile.restore(file, s, prompt, other));
                assertTrue(e.getMessage().endsWith("the KV cache file was made with another model"), e.getMessage());
                byte[] bytes = Files.readAllBytes(file);
                Files.write(file, Arrays.copyOf(bytes, bytes.length - 100));
                e = assertThrows(TernException.class, () -> SessionFile.restore(file, s, prompt, fingerprint));
                assertTrue(e.getMessage().endsWith("the KV cache file is truncated"), e.getMessage());
                assertEquals(0, s.position(), "nothing half restored");
                Files.writeString(file, "not a cache");
                e = assertThrows(TernException.class, () -> SessionFile.restore(file, s, prompt, fingerprint));
                assertTrue(e.getMessage().endsWith("not a Tern KV cache file"), e.getMessage());
            }
        }
    }
}
