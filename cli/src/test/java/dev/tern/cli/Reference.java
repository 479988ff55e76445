package dev.tern.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One of llama.cpp's greedy reference decodes in ../shared: prompt ids, the top-5 logits per
 * step, and the generated ids.
 */
record Reference(int[] promptIds, List<int[]> topIds, List<float[]> topLogits, int[] ids) {

    static Reference read(Path file) {
        try {
            int[] prompt = null;
            int[] ids = null;
            List<int[]> topIds = new ArrayList<>();
            List<float[]> topLogits = new ArrayList<>();
            for (String line : Files.readAllLines(file)) {
                if (line.startsWith("prompt_ids")) {
                    prompt = ints(line.substring("prompt_ids".length()));
                } else if (line.startsWith("ids")) {
                    ids = ints(line.substring(3));
                } else if (line.startsWith("step ")) {
                    String[] parts = line.substring(line.indexOf(" top ") + 5).trim().split(" ");
                    int[] ti = new int[parts.length];
                    float[] tl = new float[parts.length];
                    for (int i = 0; i < parts.length; i++) {
                        String[] kv = parts[i].split(":");
                        ti[i] = Integer.parseInt(kv[0]);
                        tl[i] = Float.parseFloat(kv[1]);
                    }
                    topIds.add(ti);
                    topLogits.add(tl);
                }
            }
            return new Reference(prompt, topIds, topLogits, ids);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int[] ints(String s) {
        s = s.trim();
        return s.isEmpty() ? new int[0] : Arrays.stream(s.split("\\s+")).mapToInt(Integer::parseInt).toArray();
    }

    /**
     * How many leading steps must agree: all before the first step where llama.cpp's own top-2
     * logits are within {@code tieGap} (from there on the choice is a coin toss between implementations).
     */
    int comparableSteps(float tieGap) {
        for (int s = 0; s < topLogits.size(); s++) {
            float[] l = topLogits.get(s);
            if (l[0] - l[1] < tieGap) {
                return s;
            }
        }
        return ids.length;
    }
}
