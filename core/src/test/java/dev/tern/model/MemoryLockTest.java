package dev.tern.model;

import dev.tern.tensor.Tensor;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** --mlock: the kernel's own count of this process's locked memory grows by the model's weights. */
class MemoryLockTest {

    private static long lockedKb() throws IOException {
        return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmLck:"))
                .map(l -> Long.parseLong(l.replaceAll("[^0-9]", ""))).findFirst().orElseThrow();
    }

    @Test
    void theWeightsAreLocked() throws IOException {
        try (Model m = Model.load(Fixtures.stories260K("stories260K-f32.gguf"))) {
            long weights = m.weights().tokenEmbedding().data().byteSize();
            for (LayerWeights l : m.weights().layers()) {
                for (Tensor t : new Tensor[]{l.wq(), l.wk(), l.wv(), l.wo(), l.gate(), l.up(), l.down()}) {
                    weights += t.data().byteSize();
                }
            }
            long before = lockedKb();
            m.lockInMemory();
            long grew = (lockedKb() - before) * 1024;
            assertTrue(grew >= weights && grew < weights + 64 * 4096, "locked " + grew + " bytes for " + weights + " of weights");
        }
    }
}
