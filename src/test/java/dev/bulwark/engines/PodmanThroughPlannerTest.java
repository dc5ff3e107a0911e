package dev.bulwark.engines;

/**
 * PodmanTest's tests with conmon and podman calling the runtime through the static client and a
 * warm planner of the classes under test (PodmanTest's set-up starts one for this class);
 * PodmanTest itself runs them on the direct path. The planner's log must show calls served and
 * none refused.
 */
class PodmanThroughPlannerTest extends PodmanTest {
}
