package dev.tern.engine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** One of llama.cpp's greedy decodes in ../shared: prompt ids, top-5 id:logit per step, generated ids. */
record ReferenceDecode(int[] promptIds, int[][] topIds, float[][] topLogits, int[] ids) {

    static ReferenceDecode read(Path file) throws IOException {
        int[] prompt = null, ids = null;
        List<int[]> topIds = new ArrayList<>();
        List<float[]> topLogits = new ArrayList<>();
        for (String line : Files.readAllLines(file)) {
            String[] f = line.trim().split("\\s+");
            switch (f[0]) {
                case "prompt_ids" -> prompt = ints(f);
                case "ids" -> ids = ints(f);
                case "step" -> {
                    if (Integer.parseInt(f[1]) != topIds.size() || !f[2].equals("top")) {
                        throw new IOException(file + ": unexpected line " + line);
                    }
                    int[] id = new int[f.length - 3];
                    float[] logit = new float[f.length - 3];
                    for (int i = 3; i < f.length; i++) {
                        String[] pair = f[i].split(":");
                        id[i - 3] = Integer.parseInt(pair[0]);
                        logit[i - 3] = Float.parseFloat(pair[1]);
                    }
                    topIds.add(id);
                    topLogits.add(logit);
                }
                default -> {
                }
            }
        }
        if (prompt == null || ids == null || ids.length != topIds.size()) {
            throw new IOException(file + ": incomplete reference");
        }
        return new ReferenceDecode(prompt, topIds.toArray(int[][]::new), topLogits.toArray(float[][]::new), ids);
    }

    private static int[] ints(String[] f) {
        return Arrays.stream(f, 1, f.length).mapToInt(Integer::parseInt).toArray();
    }

    /** The first step whose top-2 reference logits are within {@code gap}: ids may diverge from there on. */
    int divergence(float gap) {
        for (int s = 0; s < ids.length; s++) {
            if (topLogits[s][0] - topLogits[s][1] < gap) {
                return s;
            }
        }
        return ids.length;
    }
}
