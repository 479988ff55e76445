package dev.tern.cli.bench;

import dev.tern.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * What a benchmark ran on, as llama-bench's {@code cpu_info}: the processor's name and the vector
 * instruction sets the kernels' speed depends on (from /proc/cpuinfo where there is one), and the
 * width of the vectors the kernels use. Results from machines that differ here do not compare.
 */
public record CpuInfo(String name, List<String> features, int vectorBits) {
    /** The flags that decide which kernels run and how fast (AVX2 against AVX-512, its int8 and bf16 dot products). */
    private static final List<String> FEATURES = List.of("avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
            "avx512_vnni", "avx512_bf16", "avx_vnni", "asimd", "sve");

    public static CpuInfo detect() {
        String name = System.getProperty("os.arch");
        Set<String> flags = Set.of();
        try {
            List<String> lines = Files.readAllLines(Path.of("/proc/cpuinfo"));
            name = field(lines, "model name", name);
            flags = Set.of(field(lines, "flags", field(lines, "Features", "")).split("\\s+"));
        } catch (IOException | RuntimeException e) {
            // Not Linux, or unreadable: the architecture alone.
        }
        Set<String> present = flags;
        return new CpuInfo(name, FEATURES.stream().filter(present::contains).toList(), Tensor.vectorBits());
    }

    private static String field(List<String> lines, String key, String otherwise) {
        return lines.stream().filter(l -> l.startsWith(key) && l.indexOf(':') > 0)
                .map(l -> l.substring(l.indexOf(':') + 1).strip()).findFirst().orElse(otherwise);
    }

    /** One line: "AMD EPYC, 2 cores, 512-bit vectors (avx2 fma avx512f …)". */
    public String describe(int cores) {
        return name + ", " + cores + " core" + (cores == 1 ? "" : "s") + ", " + vectorBits + "-bit vectors"
                + (features.isEmpty() ? "" : features.stream().collect(Collectors.joining(" ", " (", ")")));
    }
}
