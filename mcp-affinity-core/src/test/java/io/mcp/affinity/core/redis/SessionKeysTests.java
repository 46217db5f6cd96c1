package io.mcp.affinity.core.redis;

import java.util.HashSet;
import java.util.Set;
import java.util.UUID;

import io.mcp.affinity.core.SessionId;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class SessionKeysTests {

	// Expected digests computed outside Java, so the test does not check the code against itself:
	// printf %s "$ID" | sha256sum | head -c 32 | xxd -r -p | base64 | tr '+/' '-_' | tr -d '='
	@Test
	void digestIsTheFirst128BitsOfSha256InBase64url() {
		assertThat(SessionKeys.digest(SessionId.of("3f0c1b2a-5d4e-4f6a-8b7c-9d0e1f2a3b4c")))
			.isEqualTo("E0INJSmWJTcRtd4aPc4W9Q");
		assertThat(SessionKeys.digest(SessionId.of("mcp-session-1"))).isEqualTo("k9gPAMXWj1BThkiaz_zGTA");
		assertThat(SessionKeys.digest(SessionId.of("mcp-session-5"))).isEqualTo("c-K87uAYg-rPIgy7SBsF3g");
		assertThat(SessionKeys.digest(SessionId.of("a"))).isEqualTo("ypeBEsobvcr6wjGzmiPcTQ");
	}

	@Test
	void keyIsThePrefixAndTheDigest() {
		assertThat(new SessionKeys("mcp-affinity:").key(SessionId.of("mcp-session-1")))
			.isEqualTo("mcp-affinity:session:k9gPAMXWj1BThkiaz_zGTA");
	}

	@Test
	void keyLengthIsFixedWhateverTheIdLength() {
		SessionKeys keys = new SessionKeys("p:");
		for (String id : new String[] { "a", UUID.randomUUID().toString(), "x".repeat(SessionId.MAX_LENGTH) }) {
			assertThat(keys.key(SessionId.of(id))).hasSize("p:session:".length() + SessionKeys.DIGEST_LENGTH)
				.matches("p:session:[A-Za-z0-9_-]{22}");
		}
	}

	@Test
	void differentIdsGetDifferentDigests() {
		Set<String> digests = new HashSet<>();
		for (int i = 0; i < 100_000; i++) {
			digests.add(SessionKeys.digest(SessionId.of(UUID.randomUUID().toString())));
		}
		// Also ids that differ in one character only.
		for (int i = 0; i < 10_000; i++) {
			digests.add(SessionKeys.digest(SessionId.of("session-" + i)));
		}
		assertThat(digests).hasSize(110_000);
	}

}
