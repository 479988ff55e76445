package dev.tern.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tern.gguf.GGUFFile;
import dev.tern.testing.Fixtures;
import dev.tern.tokenizer.Tokenizer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code tern run --temp 0 --format json} against llama.cpp's greedy decodes: the prompt's ids
 * and the generated ids up to llama.cpp's first near-tie.
 */
class RunCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static Stream<Arguments> references() {
        Stream.Builder<Arguments> b = Stream.builder();
        for (String prompt : new String[]{"once", "beach", "zoo", "empty"}) {
            for (String type : new String[]{"f32", "f16", "bf16"}) {
                b.add(Arguments.of(Fixtures.stories260K("stories260K-" + type + ".gguf"),
                        Fixtures.stories260K("reference/" + prompt + "." + type + ".txt"), 0.05f));
            }
            b.add(Arguments.of(Fixtures.stories260K("stories260K.bin"), Fixtures.stories260K("reference/" + prompt + ".f32.txt"), 0.05f));
        }
        for (String type : new String[]{"f32", "q8_0", "q4_k_m"}) {
            b.add(Arguments.of(Fixtures.stories15M("stories15M-distilled-" + type + ".gguf"),
                    Fixtures.stories15M("reference/once." + type + ".txt"), type.equals("f32") ? 0.05f : 0.3f));
        }
        return b.build();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("references")
    void greedyIdsMatchLlamaCpp(Path model, Path referenceFile, float tieGap) throws Exception {
        Reference ref = Reference.read(referenceFile);
        String prompt = promptText(ref.promptIds());
        Cli r = Cli.run("run", "-m", model.toString(), "--temp", "0", "-n", Integer.toString(ref.ids().length),
                "--format", "json", "-t", "2", prompt);
        assertEquals(0, r.exitCode(), r.err());
        JsonNode json = JSON.readTree(r.out());
        assertArrayEquals(ref.promptIds(), ints(json.get("prompt_tokens")), "prompt tokens");
        int[] ids = ints(json.get("tokens"));
        int n = ref.comparableSteps(tieGap);
        assertTrue(ids.length >= n, "generated " + ids.length + " tokens, need " + n);
        assertArrayEquals(Arrays.copyOf(ref.ids(), n), Arrays.copyOf(ids, n), "generated ids (first " + n + ")");
        JsonNode t = json.get("timings");
        assertEquals(ref.promptIds().length, t.get("prompt_n").asInt());
        assertEquals(ref.ids().length, t.get("predicted_n").asInt());
        assertTrue(t.get("predicted_per_second").asDouble() > 0);
    }

    /** The prompt as text: the reference ids after BOS, decoded by the fixture's own vocabulary. */
    private static String promptText(int[] promptIds) {
        try (GGUFFile f = GGUFFile.open(Fixtures.stories260K("stories260K-f32.gguf"))) {
            return Tokenizer.fromGGUF(f).decode(Arrays.copyOfRange(promptIds, 1, promptIds.length));
        }
    }

    private static int[] ints(JsonNode array) {
        int[] r = new int[array.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = array.get(i).asInt();
        }
        return r;
    }
}
