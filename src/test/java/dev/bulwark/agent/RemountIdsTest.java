package dev.bulwark.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The uid=/gid= translation of a superblock remount's options, on maps written by hand. */
class RemountIdsTest {
    // a container's maps as the host reads them: 0-65535 inside is 600000-665535 outside
    private static final List<RemountIds.Range> MAP = RemountIds.parseMap("         0     600000      65536\n");

    @Test
    void hostIdsAsMountinfoShowsThemBecomeTheNamespacesOwn() {
        assertEquals("uid=0,gid=5,mode=755", RemountIds.translate("uid=600000,gid=600005,mode=755", MAP, MAP));
    }

    @Test
    void idsOfTheNamespaceAndOtherOptionsStayAsGiven() {
        assertEquals("size=1m,uid=1000,gid=0", RemountIds.translate("size=1m,uid=1000,gid=0", MAP, MAP));
    }

    @Test
    void aValueNoMapNamesIsLeftForTheKernelToRefuse() {
        assertEquals("uid=700000,gid=x", RemountIds.translate("uid=700000,gid=x", MAP, MAP));
        assertEquals("uid=600000", RemountIds.translate("uid=600000", List.of(), List.of()));
    }

    @Test
    void severalRangesAreEachMapped() {
        List<RemountIds.Range> two = RemountIds.parseMap("0 600000 1000\n1000 900000 64536\n");
        assertEquals("uid=999,gid=1001", RemountIds.translate("uid=600999,gid=900001", two, two));
    }
}
