-- A conversation's lastSeq and activity time follow its messages inside the database, so a
-- group commit is one INSERT for every room's messages instead of one UPDATE per room.
CREATE TRIGGER `messages_advance_conversation` AFTER INSERT ON `messages`
BEGIN
  UPDATE `conversations`
  SET `last_seq` = max(`last_seq`, NEW.`seq`), `last_activity_at` = NEW.`created_at`
  WHERE `app` = NEW.`app` AND `id` = NEW.`conversation_id`;
END;
