/**
 * A local cluster for trying the sample by hand and for end-to-end tests: several instances and a round-robin front
 * door without stickiness, as a plain load balancer would be.
 */
@NullMarked
package io.mcp.affinity.sample.cluster;

import org.jspecify.annotations.NullMarked;
