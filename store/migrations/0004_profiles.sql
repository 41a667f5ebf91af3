CREATE TABLE `profiles` (
	`app` text NOT NULL,
	`user_id` text NOT NULL,
	`name` text,
	`picture` text,
	`updated_at` text NOT NULL,
	PRIMARY KEY(`app`, `user_id`)
);
