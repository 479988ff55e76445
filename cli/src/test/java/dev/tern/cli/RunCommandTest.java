package dev.tern.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tern.gguf.GGUFFile;
import dev.tern.testing.Fixtures;
import dev.tern.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
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

    /**
     * A BOS the model writes (seed 76 at temperature 1.5 draws one as token 97) adds no text, as in llama.cpp's
     * output, unless asked for with --special.
     */
    @Test
    void controlTokensArePrintedOnlyWithSpecial() throws Exception {
        String model = Fixtures.stories15M("stories15M-distilled-f32.gguf").toString();
        String[] args = {"run", "-m", model, "-s", "76", "--temp", "1.5", "-n", "100", "-t", "2", "hi"};
        Cli json = Cli.run(concat(args, "--format", "json"));
        assertEquals(0, json.exitCode(), json.err());
        JsonNode j = JSON.readTree(json.out());
        assertTrue(Arrays.stream(ints(j.get("tokens"))).anyMatch(t -> t == 1), "this seed draws BOS: " + j.get("tokens"));
        assertFalse(j.get("text").asText().contains("<s>"), j.get("text").asText());
        Cli plain = Cli.run(args);
        assertEquals(0, plain.exitCode(), plain.err());
        assertEquals(j.get("text").asText().strip(), plain.out().strip());
        Cli special = Cli.run(concat(args, "--special"));
        assertEquals(0, special.exitCode(), special.err());
        assertTrue(special.out().contains("<s>"), special.out());
        assertEquals(plain.out().strip(), special.out().replace("<s>", "").strip());
    }

    private static String[] concat(String[] a, String... b) {
        String[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
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
