package io.mcp.affinity.sample;

import java.util.List;

/** The cold-burst scenarios with {@code mcp.affinity.ownership=session-id}: same clients, same targets. */
class ColdBurstSessionIdIT extends ColdBurstIT {

	@Override
	protected List<String> instanceArguments() {
		return List.of("--mcp.affinity.ownership=session-id");
	}

}
