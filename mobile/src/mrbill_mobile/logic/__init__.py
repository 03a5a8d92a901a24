"""What the screens do, without any widget: state plus async actions, testable on their own."""
