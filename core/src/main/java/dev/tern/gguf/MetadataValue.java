package dev.tern.gguf;

import java.util.Arrays;

/**
 * One metadata value and its GGUF type, kept so that a file can be written back unchanged.
 * Scalars are boxed: 8 to 32-bit integers as Integer (UINT32 as Long), 64-bit as Long,
 * FLOAT32 as Float, FLOAT64 as Double, BOOL as Boolean, STRING as String. Arrays are primitive
 * arrays of the element type (byte[], short[], int[] for 32-bit, long[], float[], double[],
 * boolean[], String[]), or MetadataValue[] for arrays of arrays; elementType names it.
 */
public record MetadataValue(GGUFValueType type, GGUFValueType elementType, Object value) {

    public static MetadataValue of(String s) {
        return new MetadataValue(GGUFValueType.STRING, null, s);
    }

    public static MetadataValue ofUInt16(int v) {
        return new MetadataValue(GGUFValueType.UINT16, null, v);
    }

    public static MetadataValue ofUInt32(long v) {
        return new MetadataValue(GGUFValueType.UINT32, null, v);
    }

    public static MetadataValue ofInt32(int v) {
        return new MetadataValue(GGUFValueType.INT32, null, v);
    }

    public static MetadataValue ofFloat32(float v) {
        return new MetadataValue(GGUFValueType.FLOAT32, null, v);
    }

    public static MetadataValue ofBool(boolean v) {
        return new MetadataValue(GGUFValueType.BOOL, null, v);
    }

    public static MetadataValue ofArray(String[] v) {
        return new MetadataValue(GGUFValueType.ARRAY, GGUFValueType.STRING, v);
    }

    public static MetadataValue ofArray(float[] v) {
        return new MetadataValue(GGUFValueType.ARRAY, GGUFValueType.FLOAT32, v);
    }

    public static MetadataValue ofArray(int[] v) {
        return new MetadataValue(GGUFValueType.ARRAY, GGUFValueType.INT32, v);
    }

    /** Element count of an array value. */
    public int length() {
        return switch (value) {
            case byte[] a -> a.length;
            case short[] a -> a.length;
            case int[] a -> a.length;
            case long[] a -> a.length;
            case float[] a -> a.length;
            case double[] a -> a.length;
            case boolean[] a -> a.length;
            case Object[] a -> a.length;
            default -> throw new IllegalStateException("not an array: " + type);
        };
    }

    @Override
    public String toString() {
        if (type != GGUFValueType.ARRAY) {
            return String.valueOf(value);
        }
        int n = length();
        String head = switch (value) {
            case int[] a -> Arrays.toString(Arrays.copyOf(a, Math.min(n, 8)));
            case float[] a -> Arrays.toString(Arrays.copyOf(a, Math.min(n, 8)));
            case Object[] a -> Arrays.toString(Arrays.copyOf(a, Math.min(n, 8)));
            default -> "";
        };
        return elementType + "[" + n + "] " + head;
    }
}
