package dev.tern.tokenizer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** llama.cpp's tokenizer test vectors, split exactly as tests/test-tokenizer-0.cpp reads them. */
record VocabVectors(List<String> inputs, List<int[]> expected) {
    private static final String SEP = "\n__ggml_vocab_test__\n";

    static VocabVectors read(Path inp, Path out) throws IOException {
        String raw = Files.readString(inp, StandardCharsets.UTF_8);
        List<String> inputs = new ArrayList<>();
        int pos = 0;
        while (pos < raw.length()) {
            int next = raw.indexOf(SEP, pos);
            if (next < 0) {
                inputs.add(raw.substring(pos));
                break;
            }
            inputs.add(raw.substring(pos, next));
            pos = next + SEP.length();
        }
        List<int[]> expected = new ArrayList<>();
        for (String line : Files.readAllLines(out, StandardCharsets.UTF_8)) {
            String s = line.strip();
            expected.add(s.isEmpty() ? new int[0] : Arrays.stream(s.split(" ")).mapToInt(Integer::parseInt).toArray());
        }
        if (inputs.size() != expected.size()) {
            throw new IllegalStateException(inp + ": " + inputs.size() + " inputs but " + expected.size() + " outputs");
        }
        return new VocabVectors(inputs, expected);
    }
}
