package dev.bulwark.engines;

/**
 * EnginesTest's tests with dockerd and containerd's shim calling the runtime on the direct path
 * (a JVM per call, no planner; EnginesTest's set-up chooses it for this class); EnginesTest
 * itself runs them through a planner.
 */
class EnginesDirectTest extends EnginesTest {
}
