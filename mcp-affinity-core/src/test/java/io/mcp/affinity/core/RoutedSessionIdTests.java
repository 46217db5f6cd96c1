package io.mcp.affinity.core;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

class RoutedSessionIdTests {

	@Test
	void anIdNamesItsOwnersEpochAndCarriesTheTransportsIdAsIs() {
		SessionId routed = RoutedSessionId.of("9223372036854775807", "0f8e-4c1d");
		assertThat(routed.value()).isEqualTo("~1y2p0ij32e8e7~0f8e-4c1d");
		RoutedSessionId parsed = RoutedSessionId.parse(routed);
		assertThat(parsed).isEqualTo(new RoutedSessionId("9223372036854775807", "0f8e-4c1d"));
		// A transport id may contain the mark itself: only the first two delimit the token.
		assertThat(RoutedSessionId.parse(RoutedSessionId.of("0", "a~b"))).isEqualTo(new RoutedSessionId("0", "a~b"));
	}

	@Test
	void everyEpochAnInstanceMintsCanBeNamed() {
		for (int i = 0; i < 1000; i++) {
			String epoch = InstanceIdentity.create(java.net.URI.create("http://127.0.0.1:8080")).epoch();
			assertThat(RoutedSessionId.canName(epoch)).isTrue();
			assertThat(RoutedSessionId.parse(RoutedSessionId.of(epoch, "t")).ownerEpoch()).isEqualTo(epoch);
		}
	}

	@Test
	void idsThatNameNoOwnerAreLeftToTheStore() {
		for (String id : new String[] { "8d9c2d4e-1b8e-4a7e-9a43-0c1f0d3e2b11", "~", "~~x", "~abc", "~abc~", "~ABC~x",
				"~0a~x", "~-1~x", "~zzzzzzzzzzzzzz~x", "x~1~y" }) {
			assertThat(RoutedSessionId.parse(SessionId.of(id))).as(id).isNull();
		}
	}

	@Test
	void aTransportIdThatLeavesNoRoomForTheTokenGivesNoRoutedId() {
		assertThat(RoutedSessionId.of("42", "x".repeat(SessionId.MAX_LENGTH - 4))).isNotNull();
		assertThat(RoutedSessionId.of("42", "x".repeat(SessionId.MAX_LENGTH - 3))).isNull();
		assertThat(RoutedSessionId.of("42", "has space")).isNull();
	}

	@Test
	void epochsThatAreNotDecimalNumbersCannotBeNamed() {
		assertThat(RoutedSessionId.canName("a")).isFalse();
		assertThat(RoutedSessionId.canName("")).isFalse();
		assertThat(RoutedSessionId.canName("01")).isFalse();
		assertThat(RoutedSessionId.canName("99999999999999999999")).isFalse();
		assertThatIllegalArgumentException().isThrownBy(() -> RoutedSessionId.of("a", "t"));
	}

	@Test
	void itsTextFormNeverShowsTheTransportsId() {
		assertThat(RoutedSessionId.parse(RoutedSessionId.of("42", "secret-id")).toString()).doesNotContain("secret-id");
	}

}
