package dev.tern.tokenizer;

import dev.tern.testing.Fixtures;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;

/** A llama.cpp greedy decode of stories260K: prompt ids, generated ids and the printed text. */
record StoriesReference(int[] promptIds, int[] ids, String text) {
    static StoriesReference read(String name) throws IOException {
        String all = Files.readString(Fixtures.stories260K("reference/" + name + ".f32.txt"), StandardCharsets.UTF_8);
        int[] prompt = null;
        int[] ids = null;
        for (String line : all.split("\n")) {
            if (line.startsWith("prompt_ids ")) {
                prompt = parse(line.substring("prompt_ids ".length()));
            } else if (line.startsWith("ids ")) {
                ids = parse(line.substring("ids ".length()));
            }
        }
        String text = all.substring(all.indexOf("\ntext ") + "\ntext ".length());
        return new StoriesReference(prompt, ids, text);
    }

    private static int[] parse(String s) {
        return Arrays.stream(s.trim().split(" ")).mapToInt(Integer::parseInt).toArray();
    }
}
