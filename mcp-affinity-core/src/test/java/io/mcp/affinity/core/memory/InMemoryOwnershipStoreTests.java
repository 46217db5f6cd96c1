package io.mcp.affinity.core.memory;

import io.mcp.affinity.core.OwnershipStore;
import io.mcp.affinity.core.test.AbstractOwnershipStoreContractTests;

class InMemoryOwnershipStoreTests extends AbstractOwnershipStoreContractTests {

	@Override
	protected OwnershipStore createStore(String localEpoch) {
		return new InMemoryOwnershipStore(TIME_TO_LIVE, 10_000);
	}

}
