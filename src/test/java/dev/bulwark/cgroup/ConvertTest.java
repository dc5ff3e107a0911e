package dev.bulwark.cgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ConvertTest {
    @Test
    void sharesToWeight() {
        assertEquals(0, Convert.sharesToWeight(0));
        assertEquals(1, Convert.sharesToWeight(2));
        assertEquals(39, Convert.sharesToWeight(1024)); // the v1 default lands near v2's default of 100/2.5
        assertEquals(10000, Convert.sharesToWeight(262144));
        assertEquals(20, Convert.sharesToWeight(512));
    }

    @Test
    void blkioWeightToIoWeight() {
        assertEquals(0, Convert.blkioWeightToIoWeight(0));
        assertEquals(1, Convert.blkioWeightToIoWeight(10));
        assertEquals(10000, Convert.blkioWeightToIoWeight(1000));
        assertEquals(5000, Convert.blkioWeightToIoWeight(505));
    }

    @Test
    void swapIsMemoryPlusSwapInTheSpec() {
        assertEquals(-1, Convert.swapToV2(-1, 100));
        assertEquals(0, Convert.swapToV2(100, 100));
        assertEquals(50, Convert.swapToV2(150, 100));
        assertTrue(assertThrows(CgroupException.class, () -> Convert.swapToV2(50, 100)).getMessage()
                .startsWith("linux.resources.memory.swap: 50 is below the memory limit 100"));
        assertTrue(assertThrows(CgroupException.class, () -> Convert.swapToV2(200, -1)).getMessage()
                .contains("the memory limit is unlimited"));
    }

    @Test
    void pageSizes() {
        assertEquals("2MB", Convert.pageSize("x", "2MB"));
        assertEquals("1GB", Convert.pageSize("x", "1GB"));
        assertThrows(CgroupException.class, () -> Convert.pageSize("x", "2M"));
        assertThrows(CgroupException.class, () -> Convert.pageSize("x", "../2MB"));
    }
}
